"""End to end on a real host: DNS name to API call, through what the program deploys.

The tests run in file order on one deployment: deploy, use, redeploy, renew, destroy.
"""

from __future__ import annotations

import asyncio
import base64
import grp
import hashlib
import ipaddress
import json
import subprocess
import time
import tomllib
from pathlib import Path

import grpc
import httpx
import pytest
from pactus_grpc import blockchain_pb2, blockchain_pb2_grpc, network_pb2, network_pb2_grpc, wallet_pb2, wallet_pb2_grpc
from pactus_jsonrpc.client import PactusOpenRPCClient

from render.host_layout import ACME_WEBROOT, RENEW_HOOK, HostLayout
from render.pactus_config import render_pactus_config
from tests.host.conftest import DOMAIN, ORIGIN, PEBBLE_DIRECTORY, nginx_processes, this_host_as_the_node, trusted
from tests.host.engine import Engine
from tests.host.pactus_standin import HEIGHT, MONIKER
from tests.pulumi_mocks import deploy, settings_of

pytestmark = pytest.mark.host
LAYOUT = HostLayout(DOMAIN)


def stack_config(machine, origins=(ORIGIN,)):
    return this_host_as_the_node(machine, DOMAIN, machine.pactus_dir,
                                 jsonrpc={"enable": True, "origins": list(origins)}, http={"enable": True})


def up(engine, machine, **overrides):
    return engine.up(deploy(stack_config(machine, **overrides), ssh_key=machine.client_key, cloudflare_token=None))


def managed_files(machine) -> dict[str, str]:
    paths = [LAYOUT.http_site, LAYOUT.tls_site, RENEW_HOOK, LAYOUT.certificate, LAYOUT.renewal_conf,
             str(machine.pactus_dir / "config.toml")]
    return {path: hashlib.sha256(Path(path).read_bytes()).hexdigest() for path in paths}


@pytest.fixture(scope="module")
def engine(machine):
    engine = Engine()
    runs = up(engine, machine)
    engine.first_runs = runs
    return engine


def test_1_fresh_deploy_succeeds_and_issues_a_certificate_from_pebble(engine, machine):
    ran = [run.name.removeprefix("node-test-") for run in engine.first_runs]
    chain = [step for step in ran if step != "pactus-config-toml"]
    assert sorted(ran) == sorted(chain + ["pactus-config-toml"])
    assert chain == ["host-packages", "http-site-file", "certificate-certbot", "tls-site-file"]
    issuer = subprocess.run(["openssl", "x509", "-noout", "-issuer", "-ext", "subjectAltName", "-in", LAYOUT.certificate],
                            capture_output=True, text=True, check=True).stdout
    assert "Pebble" in issuer and f"DNS:{DOMAIN}" in issuer
    certbot_run = next(r for r in engine.first_runs if r.name.endswith("certificate-certbot"))
    assert f"certificate for {DOMAIN} issued by {PEBBLE_DIRECTORY}" in certbot_run.output


def test_2_grpc_clients_dial_the_domain_on_443_and_the_wallet_is_refused(engine, machine):
    credentials = grpc.ssl_channel_credentials(root_certificates=machine.issuing_root.read_bytes())
    with grpc.secure_channel(f"{DOMAIN}:443", credentials) as channel:
        info = blockchain_pb2_grpc.BlockchainStub(channel).GetBlockchainInfo(
            blockchain_pb2.GetBlockchainInfoRequest(), timeout=10)
        assert info.last_block_height == HEIGHT
        node = network_pb2_grpc.NetworkStub(channel).GetNodeInfo(network_pb2.GetNodeInfoRequest(), timeout=10)
        assert node.moniker == MONIKER
        with pytest.raises(grpc.RpcError) as refused:
            wallet_pb2_grpc.WalletStub(channel).GetTotalBalance(
                wallet_pb2.GetTotalBalanceRequest(wallet_name="default"), timeout=10)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "grpc:Blockchain/GetBlockchainInfo" in machine.node.calls
    assert not [call for call in machine.node.calls if "Wallet" in call]


def test_3_jsonrpc_and_http_api_answer_through_https_with_cors_from_pactus_alone(engine, machine):
    client = PactusOpenRPCClient({}, f"https://{DOMAIN}/jsonrpc", verify=trusted(machine))
    info = asyncio.run(client.pactus.blockchain.get_blockchain_info())
    assert info["last_block_height"] == HEIGHT

    with httpx.Client(verify=trusted(machine)) as https:
        api = https.get(f"https://{DOMAIN}/http/blockchain/info")
        assert api.status_code == 200 and api.json() == {"path": "/http/blockchain/info", "last_block_height": HEIGHT}
        assert api.headers["strict-transport-security"] == "max-age=63072000"

        body = '{"jsonrpc": "2.0", "id": 1, "method": "pactus.blockchain.get_blockchain_info"}'
        allowed = https.post(f"https://{DOMAIN}/jsonrpc", content=body,
                             headers={"Origin": ORIGIN, "Content-Type": "application/json"})
        assert allowed.headers.get_list("access-control-allow-origin") == [ORIGIN]
        other = https.post(f"https://{DOMAIN}/jsonrpc", content=body,
                           headers={"Origin": "https://evil.example.com", "Content-Type": "application/json"})
        assert other.headers.get_list("access-control-allow-origin") == []
        preflight = https.options(f"https://{DOMAIN}/jsonrpc", headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
        assert preflight.headers.get_list("access-control-allow-origin") == [ORIGIN]


def test_4_a_burst_beyond_the_rate_limit_gets_429_and_never_reaches_the_node(engine, machine):
    url = f"https://{DOMAIN}/http/blockchain/info"
    time.sleep(2.1)  # the earlier tests' calls have left the client's allowance whole again (10 a second)
    before = len(machine.node.calls)
    with httpx.Client(verify=trusted(machine)) as https:
        statuses = [https.get(url).status_code for _ in range(60)]
        assert set(statuses) == {200, 429} and statuses[:21] == [200] * 21  # 1 + burst 20, then the rate
        reached = [call for call in machine.node.calls[before:] if call.startswith("http:GET")]
        assert len(reached) == statuses.count(200)

        time.sleep(1.2)  # the limit refills at 10 a second
        too_big = https.post(f"https://{DOMAIN}/jsonrpc", content=b"[" + b" " * 300_000 + b"]",
                             headers={"Content-Type": "application/json"})
        assert too_big.status_code == 413 and len(machine.node.calls) == before + len(reached)


def test_5_plain_http_redirects_and_the_acme_path_serves_the_webroot(engine, machine):
    probe = Path(ACME_WEBROOT) / ".well-known/acme-challenge/pactus-secure-probe"
    probe.parent.mkdir(parents=True, exist_ok=True)
    probe.write_text("token-from-the-webroot")
    try:
        with httpx.Client(follow_redirects=False) as http:
            redirect = http.get(f"http://{DOMAIN}/jsonrpc?x=1")
            assert redirect.status_code == 301
            assert redirect.headers["location"] == f"https://{DOMAIN}/jsonrpc?x=1"
            challenge = http.get(f"http://{DOMAIN}/.well-known/acme-challenge/pactus-secure-probe")
            assert challenge.status_code == 200 and challenge.text == "token-from-the-webroot"
    finally:
        probe.unlink()


def test_6_only_80_and_443_are_open_to_the_world_and_tls_passes_testssl(engine, machine, tmp_path):
    listening = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout.splitlines()
    nginx = {line.split()[3] for line in listening if '"nginx"' in line}
    assert {address.rsplit(":", 1)[1] for address in nginx} == {"80", "443"}
    pactus = [line.split()[3] for line in listening if any(f":{port} " in line for port in (50051, 8545, 8080))]
    assert pactus and all(loopback(address) for address in pactus), pactus

    report = tmp_path / "testssl.json"
    scan = subprocess.run(["testssl", "--quiet", "--color", "0", "--warnings", "off", "--add-ca", str(machine.issuing_root),
                           "--jsonfile", str(report), f"{DOMAIN}:443"], capture_output=True, text=True, timeout=600)
    findings = {f["id"]: f for f in json.loads(report.read_text())}
    serious = [f for f in findings.values() if f["severity"] in ("MEDIUM", "HIGH", "CRITICAL")]
    assert not serious, json.dumps(serious, indent=1) + scan.stdout[-2000:]
    assert all(findings[p]["finding"] == "not offered" for p in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"))
    assert all(findings[c]["finding"] == "not offered"
               for c in ("cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW",
                         "cipherlist_3DES_IDEA", "cipherlist_AVERAGE"))
    assert findings["HSTS_time"]["severity"] == "OK" and findings["cert_chain_of_trust"]["finding"] == "passed."


def loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address.rsplit(":", 1)[0].strip("[]"))
    return (getattr(ip, "ipv4_mapped", None) or ip).is_loopback


def test_7_config_toml_is_the_rendered_one_and_the_old_one_is_kept(engine, machine):
    settings = settings_of(stack_config(machine), stack="mainnet-node1")
    config = machine.pactus_dir / "config.toml"
    assert config.read_text() == render_pactus_config(settings)
    (backup,) = machine.pactus_dir.glob("config.toml.pactus-secure-backup-*")
    assert backup.read_text() == machine.original_config
    listens = [section["listen"] for section in tomllib.loads(config.read_text()).values() if "listen" in section]
    assert listens and all(listen.startswith(("127.0.0.1:", "[::1]:")) for listen in listens)


def test_8_redeploying_changes_nothing_and_an_origins_change_touches_only_config_toml(engine, machine):
    files, nginx = managed_files(machine), nginx_processes()

    assert up(engine, machine) == []  # unchanged inputs: the engine runs nothing

    again = up(Engine(), machine)  # a forgetful engine runs every script again: they must change nothing
    assert len(again) == 5
    assert managed_files(machine) == files and nginx_processes() == nginx
    assert all("wrote" not in run.output and "reloaded" not in run.output for run in again), again

    changed = up(engine, machine, origins=("https://explorer.example.com",))
    assert [run.name.removeprefix("node-test-") for run in changed] == ["pactus-config-toml"]
    after = managed_files(machine)
    assert [path for path in files if after[path] != files[path]] == [str(machine.pactus_dir / "config.toml")]
    assert nginx_processes() == nginx


def test_9_renewal_succeeds_and_the_deploy_hook_reloads_nginx(engine, machine):
    master, workers = nginx_processes()
    serial_before = _serial()
    renewal = subprocess.run(["certbot", "renew", "--force-renewal", "--cert-name", DOMAIN,
                              "--non-interactive", "--no-random-sleep-on-renew"],
                             env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "REQUESTS_CA_BUNDLE": str(machine.pebble_api_ca)},
                             capture_output=True, text=True)
    assert renewal.returncode == 0, renewal.stdout + renewal.stderr
    assert f"nginx reloaded for the renewed certificate of {DOMAIN}" in renewal.stdout + renewal.stderr
    assert _serial() != serial_before
    new_master, new_workers = nginx_processes()
    assert new_master == master and new_workers - workers  # old workers may linger on open connections


def _serial() -> str:
    return subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", LAYOUT.certificate],
                          capture_output=True, text=True, check=True).stdout


def test_10_basic_auth_guards_jsonrpc_and_http_api_in_nginx_and_grpc_in_pactus(engine, machine):
    user, password = "operator", "correct horse battery staple"
    line = subprocess.run(["htpasswd", "-nbB", "-C", "5", user, password], capture_output=True, text=True,
                          check=True).stdout.strip()
    runs = engine.up(deploy({**stack_config(machine), "grpc": {"basicAuth": True}}, ssh_key=machine.client_key,
                            basic_auth=line, cloudflare_token=None))
    assert sorted(run.name.removeprefix("node-test-") for run in runs) == [
        "basic-auth-htpasswd", "pactus-config-toml", "tls-site-file"]
    assert all(line not in run.output and password not in run.output for run in runs)
    htpasswd = Path(LAYOUT.htpasswd)
    stat = htpasswd.stat()
    assert htpasswd.read_text() == line + "\n" and oct(stat.st_mode & 0o777) == "0o640"
    assert (stat.st_uid, grp.getgrgid(stat.st_gid).gr_name) == (0, "www-data")
    config = tomllib.loads((machine.pactus_dir / "config.toml").read_text())
    assert config["grpc"]["basic_auth"] == line
    machine.node.grpc_basic_auth = config["grpc"]["basic_auth"]  # Pactus reads it when it restarts

    with httpx.Client(verify=trusted(machine)) as https:
        assert https.get(f"https://{DOMAIN}/http/blockchain/info").status_code == 401
        assert https.get(f"https://{DOMAIN}/http/blockchain/info", auth=(user, "wrong")).status_code == 401
        assert https.get(f"https://{DOMAIN}/http/blockchain/info", auth=(user, password)).status_code == 200
        preflight = https.options(f"https://{DOMAIN}/jsonrpc", headers={"Origin": ORIGIN,
                                                                        "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 204  # browsers send preflights without credentials
    authorization = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    client = PactusOpenRPCClient({"Authorization": authorization}, f"https://{DOMAIN}/jsonrpc", verify=trusted(machine))
    assert asyncio.run(client.pactus.blockchain.get_blockchain_info())["last_block_height"] == HEIGHT

    credentials = grpc.ssl_channel_credentials(root_certificates=machine.issuing_root.read_bytes())
    with grpc.secure_channel(f"{DOMAIN}:443", credentials) as channel:
        stub = blockchain_pb2_grpc.BlockchainStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetBlockchainInfo(blockchain_pb2.GetBlockchainInfoRequest(), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        info = stub.GetBlockchainInfo(blockchain_pb2.GetBlockchainInfoRequest(), timeout=10,
                                      metadata=[("authorization", authorization)])
        assert info.last_block_height == HEIGHT

    runs = up(engine, machine)  # basicAuth unset again: the file goes after the site stops naming it
    names = [run.name.removeprefix("node-test-") for run in runs]
    assert names.index("tls-site-file") < names.index("basic-auth-htpasswd") and not htpasswd.exists()
    machine.node.grpc_basic_auth = None
    with httpx.Client(verify=trusted(machine)) as https:
        assert https.get(f"https://{DOMAIN}/http/blockchain/info").status_code == 200


def test_11_destroy_removes_the_sites_and_leaves_nginx_and_the_certificate(engine, machine):
    master, _ = nginx_processes()
    runs = engine.destroy()
    assert [run.name.removeprefix("node-test-") for run in runs] == ["tls-site-file", "http-site-file"]
    assert not Path(LAYOUT.tls_site).exists() and not Path(LAYOUT.http_site).exists()
    assert nginx_processes()[0] == master
    assert subprocess.run(["nginx", "-t"], capture_output=True).returncode == 0
    assert Path(LAYOUT.certificate).exists() and (machine.pactus_dir / "config.toml").exists()
