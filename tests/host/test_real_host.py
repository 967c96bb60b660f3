"""End to end on a real host: DNS name to API call, through what the program deploys.

The tests run in file order on one deployment: deploy, use, redeploy, renew, destroy.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import subprocess
import tomllib
from pathlib import Path

import grpc
import httpx
import pytest
from pactus_grpc import blockchain_pb2, blockchain_pb2_grpc, network_pb2, network_pb2_grpc, wallet_pb2, wallet_pb2_grpc
from pactus_jsonrpc.client import PactusOpenRPCClient

from render.host_layout import ACME_WEBROOT, RENEW_HOOK, HostLayout
from render.pactus_config import render_pactus_config
from settings import parse_settings
from tests.host.conftest import DOMAIN, ORIGIN, PEBBLE_DIRECTORY
from tests.host.engine import Engine
from tests.host.pactus_standin import HEIGHT, MONIKER
from tests.pulumi_mocks import deploy

pytestmark = pytest.mark.host
LAYOUT = HostLayout(DOMAIN)


def stack_config(machine, origins=(ORIGIN,)):
    return {
        "domain": DOMAIN,
        "host": "127.0.0.1",
        "sshPort": str(machine.ssh_port),
        "acmeEmail": "ops@example.com",
        "manageDns": "false",
        "acmeServer": PEBBLE_DIRECTORY,
        "acmeCaBundle": str(machine.pebble_api_ca),
        "pactusDir": str(machine.pactus_dir),
        "jsonrpc": {"enable": True, "origins": list(origins)},
        "http": {"enable": True},
    }


def up(engine, machine, **overrides):
    return engine.up(deploy(stack_config(machine, **overrides), ssh_key=machine.client_key, cloudflare_token=None))


def managed_files(machine) -> dict[str, str]:
    paths = [LAYOUT.http_site, LAYOUT.tls_site, RENEW_HOOK, LAYOUT.certificate, LAYOUT.renewal_conf,
             str(machine.pactus_dir / "config.toml")]
    return {path: hashlib.sha256(Path(path).read_bytes()).hexdigest() for path in paths}


def nginx_processes() -> tuple[int, frozenset[int]]:
    """The master's pid and its workers': a reload starts new workers."""
    master = int(Path("/run/nginx.pid").read_text())
    workers = frozenset(int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _ppid(p) == master)
    return master, workers


def _ppid(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def trusted(machine) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(machine.issuing_root))


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


def test_4_plain_http_redirects_and_the_acme_path_serves_the_webroot(engine, machine):
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


def test_5_config_toml_is_the_rendered_one_and_the_old_one_is_kept(engine, machine):
    settings = parse_settings(stack_config(machine), stack="mainnet-node1", secrets_present={"sshPrivateKey"})
    config = machine.pactus_dir / "config.toml"
    assert config.read_text() == render_pactus_config(settings)
    (backup,) = machine.pactus_dir.glob("config.toml.pactus-secure-backup-*")
    assert backup.read_text() == machine.original_config
    listens = [section["listen"] for section in tomllib.loads(config.read_text()).values() if "listen" in section]
    assert listens and all(listen.startswith(("127.0.0.1:", "[::1]:")) for listen in listens)


def test_6_redeploying_changes_nothing_and_an_origins_change_touches_only_config_toml(engine, machine):
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


def test_7_renewal_succeeds_and_the_deploy_hook_reloads_nginx(engine, machine):
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


def test_8_destroy_removes_the_sites_and_leaves_nginx_and_the_certificate(engine, machine):
    master, _ = nginx_processes()
    runs = engine.destroy()
    assert [run.name.removeprefix("node-test-") for run in runs] == ["tls-site-file", "http-site-file"]
    assert not Path(LAYOUT.tls_site).exists() and not Path(LAYOUT.http_site).exists()
    assert nginx_processes()[0] == master
    assert subprocess.run(["nginx", "-t"], capture_output=True).returncode == 0
    assert Path(LAYOUT.certificate).exists() and (machine.pactus_dir / "config.toml").exists()
