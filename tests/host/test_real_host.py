"""End to end on a real host, through the real engine: DNS name to API call, through what
`pulumi up` deploys with pulumi-command's provider, to a real Pactus node (pactus-daemon,
testnet) that the operator restarts on each new config.toml (no pactusService here).

One deployment is made in setup and destroyed in teardown. A test that changes it puts it
back as it found it, so the tests hold in any order.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import grp
import hashlib
import ipaddress
import json
import os
import subprocess
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import httpx
import pytest
from google.protobuf import json_format
from pactus_grpc import (
    blockchain_pb2,
    blockchain_pb2_grpc,
    network_pb2,
    network_pb2_grpc,
    utils_pb2,
    utils_pb2_grpc,
    wallet_pb2,
    wallet_pb2_grpc,
)
from pactus_jsonrpc.client import PactusOpenRPCClient

from clients.endpoint import Endpoint, EndpointCheckFailed, check_endpoint
from components import names as n
from render.host_layout import ACME_WEBROOT, RENEW_HOOK, RENEWAL_CRON, HostLayout
from render.pactus_config import managed_sections
from testbed.configs import settings_of
from testbed.pulumi_mocks import deploy
from testbed.stack import Project, Result, Stack, StackFailed
from testbed.this_machine import (
    DOMAIN,
    HAND_EDITS_LOGGER,
    HAND_EDITS_PREFIX,
    HAND_EDITS_REWARD,
    ORIGIN,
    PEBBLE_DIRECTORY,
    nginx_processes,
    node_stack,
    this_host_as_the_node,
    trusted,
)
from testbed.tools import tool

pytestmark = pytest.mark.host
LAYOUT = HostLayout(DOMAIN)
RESTART_HINT = "pactusService is not set, so nobody restarted the node"


def stack_config(machine, origins=(ORIGIN,), **overrides):
    return this_host_as_the_node(
        machine,
        DOMAIN,
        machine.pactus_dir,
        jsonrpc={"enable": True, "origins": list(origins)},
        http={"enable": True},
        **overrides,
    )


def up(stack: Stack, machine, config: dict | None = None) -> Result:
    """`pulumi up`, then what an operator without pactusService does: restart the node when the
    up wrote a config.toml, and when the up says the node runs an old one, `pulumi up` again."""
    if config is not None:
        stack.configure(config)
    try:
        result = stack.up()
    except StackFailed as failed:
        if RESTART_HINT not in failed.output:
            raise
        machine.node.restart()
        again = stack.up()  # it also does what the failed one left (deletes come last)
        return dataclasses.replace(again, steps=failed.result.steps + again.steps)
    if n.CONFIG_TOML in result.ran():  # its output may be secret: restart whenever it ran
        machine.node.restart()
    assert machine.node.rejected_configs() == []  # the daemon took the file as it is
    return result


def node_endpoint(machine, *, basic_auth_required: bool) -> Endpoint:
    """The deployment's APIs as the endpoint check calls them, trusting pebble's root."""
    return Endpoint(
        name=DOMAIN,
        grpc=True,
        jsonrpc_path="/jsonrpc",
        http_base_path="/http",
        basic_auth_required=basic_auth_required,
        ca_bundle=str(machine.issuing_root),
    )


def direct_grpc(machine):
    return grpc.insecure_channel(machine.node.grpc_target())


def proxied_grpc(machine):
    return grpc.secure_channel(f"{DOMAIN}:443", grpc.ssl_channel_credentials(machine.issuing_root.read_bytes()))


def access_log_since(offset: int, count: int) -> list[str]:
    """The `count` lines Nginx logged after `offset`; it logs a request once done with its
    connection's body (a refused large body is read to its end first)."""
    deadline = time.monotonic() + 10
    while True:
        with open(LAYOUT.access_log) as log:
            log.seek(offset)
            lines = log.read().splitlines()
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def managed_files(machine) -> dict[str, str]:
    paths = [
        LAYOUT.http_site,
        LAYOUT.tls_site,
        RENEW_HOOK,
        LAYOUT.certificate,
        LAYOUT.renewal_conf,
        str(machine.pactus_dir / "config.toml"),
    ]
    return {path: hashlib.sha256(Path(path).read_bytes()).hexdigest() for path in paths}


@dataclasses.dataclass
class Deployed:
    stack: Stack
    first_up: StackFailed  # the first `up`, on a node still running the config.toml init wrote
    after_restart: Result  # the `up` after the operator restarted the node
    sessions: int  # SSH sessions of the first up
    first_backups: list[str]  # the config.toml backups the first up left


@pytest.fixture(scope="module")
def node(project, machine):
    stack = node_stack(project, "node", stack_config(machine), machine)
    before = machine.ssh_sessions()
    with pytest.raises(StackFailed) as first:
        stack.up()
    sessions = machine.ssh_sessions() - before
    backups = [path.read_text() for path in machine.pactus_dir.glob("config.toml.pactus-secure-backup-*")]
    machine.node.restart()
    deployed = Deployed(stack, first.value, stack.up(), sessions, backups)
    yield deployed
    stack.destroy()


def test_a_fresh_preview_lists_exactly_what_the_program_declares_and_runs_no_remote_command(project, machine):
    stack = node_stack(project, "node-preview", stack_config(machine), machine)
    try:
        sessions = machine.ssh_sessions()
        preview = stack.preview()
        assert machine.ssh_sessions() == sessions
    finally:
        stack.remove()
    declared = {
        r.name
        for r in deploy(
            stack_config(machine), ssh_key=machine.client_key, cloudflare_token=None, preview=True
        ).resources
    }
    engine_own = {f"pactus-secure-{stack.name}", "default_1_2_1"}  # the stack, and pulumi-command's provider
    assert set(preview.planned) == declared | engine_own and set(preview.planned.values()) == {"create"}
    assert preview.changes == {"create": len(declared) + 1}  # the summary counts the stack, not the provider


def test_a_fresh_deploy_succeeds_and_issues_a_certificate_from_pebble(node, machine):
    ran = node.first_up.result.ran()
    assert sorted(ran) == sorted([n.PACKAGES, n.HTTP_SITE, n.CERTIFICATE, n.TLS_SITE, n.CONFIG_TOML])
    chain = [step for step in ran if step != n.CONFIG_TOML]
    assert chain == [n.PACKAGES, n.HTTP_SITE, n.CERTIFICATE, n.TLS_SITE]
    assert node.sessions == 5  # one SSH session a step, nothing else
    issuer = subprocess.run(
        ["openssl", "x509", "-noout", "-issuer", "-ext", "subjectAltName", "-in", LAYOUT.certificate],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Pebble" in issuer and f"DNS:{DOMAIN}" in issuer
    certbot_run = node.first_up.result.step(n.CERTIFICATE)
    assert f"certificate for {DOMAIN} issued by {PEBBLE_DIRECTORY}" in certbot_run.output
    assert f"HTTP-01 self-check passed: {DOMAIN} resolves to 127.0.0.1 and each serves" in certbot_run.output


def test_an_up_that_wrote_config_toml_without_pactus_service_says_to_restart_the_node(node):
    """The first up's endpoint check met the node on the config.toml init wrote (gRPC on
    [::]:50052): it fails naming the cause and the fix, with no Python traceback."""
    output = node.first_up.output
    assert RESTART_HINT in output and "Restart Pactus yourself, then run pulumi up again" in output
    assert "or set pactus-secure:pactusService" in output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output
    assert node.after_restart.steps == [] and node.after_restart.outputs["certificateIssuer"].startswith("Pebble")


def test_grpc_clients_dial_the_domain_on_443_get_the_nodes_answers_and_the_wallet_is_refused(node, machine):
    request = blockchain_pb2.GetBlockchainInfoRequest()
    with proxied_grpc(machine) as proxied, direct_grpc(machine) as direct:
        info = blockchain_pb2_grpc.BlockchainStub(proxied).GetBlockchainInfo(request, timeout=10)
        assert info == blockchain_pb2_grpc.BlockchainStub(direct).GetBlockchainInfo(request, timeout=10)
        assert info.total_validators > 0  # testnet's genesis, as the node has it
        node = network_pb2_grpc.NetworkStub(proxied).GetNodeInfo(network_pb2.GetNodeInfoRequest(), timeout=10)
        assert (
            node.peer_id
            == network_pb2_grpc.NetworkStub(direct).GetNodeInfo(network_pb2.GetNodeInfoRequest(), timeout=10).peer_id
        )
        offset = Path(LAYOUT.access_log).stat().st_size
        with pytest.raises(grpc.RpcError) as refused:
            wallet_pb2_grpc.WalletStub(proxied).GetTotalBalance(
                wallet_pb2.GetTotalBalanceRequest(wallet_name="default_wallet"), timeout=10
            )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    (line,) = access_log_since(offset, 1)
    assert "/pactus.Wallet/GetTotalBalance" in line and "upstream=- " in line  # Nginx answered it alone


INFO_PATH = "/http/api/pactus/blockchain/get_blockchain_info"


def test_jsonrpc_and_http_api_answer_through_https_with_cors_from_pactus_alone(node, machine):
    client = PactusOpenRPCClient({}, f"https://{DOMAIN}/jsonrpc", verify=trusted(machine))
    info = asyncio.run(client.pactus.blockchain.get_blockchain_info())
    direct = PactusOpenRPCClient({}, machine.node.jsonrpc_url())
    assert info == asyncio.run(direct.pactus.blockchain.get_blockchain_info()) and info["total_validators"] > 0

    with httpx.Client(verify=trusted(machine)) as https:
        api = https.get(f"https://{DOMAIN}{INFO_PATH}")
        assert api.status_code == 200 and api.json() == machine.node.blockchain_info()
        assert api.headers["strict-transport-security"] == "max-age=63072000"

        body = '{"jsonrpc": "2.0", "id": 1, "method": "pactus.blockchain.get_blockchain_info"}'
        allowed = https.post(
            f"https://{DOMAIN}/jsonrpc", content=body, headers={"Origin": ORIGIN, "Content-Type": "application/json"}
        )
        assert allowed.headers.get_list("access-control-allow-origin") == [ORIGIN]
        other = https.post(
            f"https://{DOMAIN}/jsonrpc",
            content=body,
            headers={"Origin": "https://evil.example.com", "Content-Type": "application/json"},
        )
        assert other.headers.get_list("access-control-allow-origin") == []
        preflight = https.options(
            f"https://{DOMAIN}/jsonrpc", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
        )
        assert preflight.headers.get_list("access-control-allow-origin") == [ORIGIN]


def test_the_endpoint_check_passes_as_a_user_sees_the_node_and_names_what_is_wrong(node, machine):
    endpoint = node_endpoint(machine, basic_auth_required=False)
    served = check_endpoint(endpoint)
    assert served.issuer.startswith("Pebble")
    expires = datetime.fromisoformat(served.expires)
    assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)
    assert timedelta(days=29, hours=23) < expires - datetime.fromisoformat(served.renewal_due) <= timedelta(days=30)
    with pytest.raises(EndpointCheckFailed, match=f"expected a TLS certificate for {DOMAIN} that this machine trusts"):
        check_endpoint(dataclasses.replace(endpoint, ca_bundle=None))  # pebble's root is in no system store
    with pytest.raises(
        EndpointCheckFailed,
        match="/nothere/api/pactus/blockchain/get_blockchain_info: expected the node's answer, got HTTP 404",
    ):
        check_endpoint(dataclasses.replace(endpoint, http_base_path="/nothere"))


def gui_dial(machine, call: str, address: str = f"https://{DOMAIN}/grpc-web") -> dict:
    """One call as Pactus's GUI makes it from `-grpc-addr address` (tools/gui-dial: Pactus's own
    address parsing, the path before every method), trusting pebble's root as the system's."""
    dialled = subprocess.run(
        [tool("gui-dial"), "-testnet", "-grpc-addr", address, call],
        env={**os.environ, "SSL_CERT_FILE": str(machine.issuing_root)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dialled.returncode == 0, dialled.stderr
    return json.loads(dialled.stdout)


def test_pactus_gui_connects_at_grpc_web_as_pactus_guide_says_and_is_refused_what_a_node_keeps(node, machine):
    """`pactus-gui -grpc-addr https://<node>/grpc-web`, on a stack that names no path prefix."""
    info = gui_dial(machine, "blockchain-info")
    assert (info["target"], info["prefix"], info["code"]) == (f"{DOMAIN}:443", "/grpc-web", "OK")  # Go's names
    with direct_grpc(machine) as direct:
        answer = blockchain_pb2_grpc.BlockchainStub(direct).GetBlockchainInfo(
            blockchain_pb2.GetBlockchainInfoRequest(), timeout=10
        )
    known = json_format.MessageToDict(answer)  # pactus-grpc 1.15's fields: v1.16 added some
    assert {key: info["response"].get(key) for key in known} == known and answer.total_validators > 0
    offset = Path(LAYOUT.access_log).stat().st_size
    wallet, signing = gui_dial(machine, "list-wallets"), gui_dial(machine, "sign-with-private-key")
    assert (wallet["code"], signing["code"]) == ("PermissionDenied", "PermissionDenied")
    assert "SignMessageWithPrivateKey is not exposed by this proxy" in signing["message"]
    lines = access_log_since(offset, 2)
    assert ["/grpc-web/pactus.Wallet/ListWallets" in lines[0], "SignMessageWithPrivateKey" in lines[1]] == [True] * 2
    assert all("upstream=- " in line for line in lines)  # Nginx answered both alone
    with proxied_grpc(machine) as proxied:
        unknown = proxied.unary_unary(
            "/grpc-web/pactus.Nothing/Here", request_serializer=lambda _: b"", response_deserializer=bytes
        )
        with pytest.raises(grpc.RpcError) as missing:
            unknown(None, timeout=10)
    assert missing.value.code() == grpc.StatusCode.UNIMPLEMENTED  # a gRPC answer, not an HTML page


def test_another_path_prefix_replaces_grpc_web(node, machine):
    up(node.stack, machine, {**stack_config(machine), "grpc": {"pathPrefix": "/grpc"}})
    try:
        assert gui_dial(machine, "blockchain-info", f"https://{DOMAIN}/grpc")["code"] == "OK"
        assert gui_dial(machine, "blockchain-info")["code"] == "Unimplemented"  # /grpc-web is no route now
        assert gui_dial(machine, "blockchain-info", f"https://{DOMAIN}")["code"] == "OK"  # nor prefix, as ever
    finally:
        up(node.stack, machine, stack_config(machine))


SIGN_WITH_KEY = "pactus.utils.sign_message_with_private_key"


def jsonrpc_call(https: httpx.Client, body) -> httpx.Response:
    return https.post(f"https://{DOMAIN}/jsonrpc", json=body, headers={"Origin": ORIGIN})


def test_no_public_route_reaches_the_wallet_or_takes_a_private_key(node, machine):
    """The HTTP-API's wallet paths and the key-signing call on each API are answered by Nginx."""
    sign = {"jsonrpc": "2.0", "id": 1, "method": SIGN_WITH_KEY, "params": {"private_key": "x", "message": "m"}}
    info = {"jsonrpc": "2.0", "id": 2, "method": "pactus.blockchain.get_blockchain_info", "params": {}}
    offset = Path(LAYOUT.access_log).stat().st_size
    with httpx.Client(verify=trusted(machine)) as https:
        wallet_paths = [
            "/http/api/pactus/wallet/get_validator_address",
            "/http/api/pactus/Wallet/list_wallets",  # the letters' case does not matter
            "/http/api/pactus/%77allet/list_wallets",  # nor an escape
        ]
        for path in wallet_paths:
            refused = https.get(f"https://{DOMAIN}{path}")
            assert refused.status_code == 403 and refused.json()["message"] == "the wallet is not exposed by this proxy"
        signed = https.post(f"https://{DOMAIN}/http/api/pactus/Utils/sign_message_with_private_key", json={})
        assert signed.status_code == 403 and "sign_message_with_private_key" in signed.json()["message"]
        single, batch = jsonrpc_call(https, sign), jsonrpc_call(https, [info, sign])
        assert (single.status_code, batch.status_code) == (403, 403)
        assert single.json()["error"] == {"code": -32601, "message": f"{SIGN_WITH_KEY} is not exposed by this proxy"}
        unreadable = https.post(f"https://{DOMAIN}/jsonrpc", content=b'{"method": "pactus.utils.sign', headers={})
        assert unreadable.status_code == 400 and unreadable.json()["error"]["code"] == -32700
        lines = access_log_since(offset, 7)
        assert len(lines) == 7 and all("upstream=- " in line for line in lines), lines
        # What the guard lets through reaches the node, with Pactus's CORS answer.
        passed = jsonrpc_call(https, info)
        assert passed.status_code == 200 and "result" in passed.json(), passed.text
        assert passed.json()["result"]["total_validators"] > 0
        assert passed.headers.get_list("access-control-allow-origin") == [ORIGIN]
    with proxied_grpc(machine) as proxied, pytest.raises(grpc.RpcError) as refused:
        utils_pb2_grpc.UtilsStub(proxied).SignMessageWithPrivateKey(
            utils_pb2.SignMessageWithPrivateKeyRequest(private_key="x", message="m"), timeout=10
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_the_wallet_routed_to_client_networks_serves_the_gui_there_and_nowhere_else(node, machine):
    """walletNetworks: no credential, so Pactus's GUI can use it; this machine dials from 127.0.0.1.
    The first up also routes the key-signing call, which then reaches the node on every API."""
    here = {**stack_config(machine), "walletNetworks": ["127.0.0.0/16"], "exposeSignMessageWithPrivateKey": "true"}
    up(node.stack, machine, here)
    try:
        listed = gui_dial(machine, "list-wallets")
        assert listed["code"] == "OK", listed
        signed = gui_dial(machine, "sign-with-private-key")
        assert signed["code"] == "OK" and signed["response"]["signature"], signed  # the node signed it
        with httpx.Client(verify=trusted(machine)) as https:
            wallets = https.get(f"https://{DOMAIN}/http/api/pactus/wallet/list_wallets")
            assert wallets.status_code == 200 and wallets.json() == listed["response"]
            sign = {"jsonrpc": "2.0", "id": 1, "method": SIGN_WITH_KEY, "params": {"private_key": "x", "message": "m"}}
            answer = jsonrpc_call(https, sign)
            assert answer.status_code == 200 and "not exposed" not in answer.text  # the node's own answer
        up(node.stack, machine, {**stack_config(machine), "walletNetworks": ["198.51.100.0/24"]})
        elsewhere = gui_dial(machine, "list-wallets")
        assert elsewhere["code"] == "PermissionDenied" and "not routed to this address" in elsewhere["message"]
        assert gui_dial(machine, "sign-with-private-key")["code"] == "PermissionDenied"
        with httpx.Client(verify=trusted(machine)) as https:
            assert https.get(f"https://{DOMAIN}/http/api/pactus/wallet/list_wallets").status_code == 403
    finally:
        up(node.stack, machine, stack_config(machine))
    assert gui_dial(machine, "list-wallets")["code"] == "PermissionDenied"


def test_a_burst_beyond_the_rate_limit_gets_429_and_never_reaches_the_node(node, machine):
    url = f"https://{DOMAIN}{INFO_PATH}"
    time.sleep(2.1)  # whatever called before, the client's allowance is whole again (10 a second)
    offset = Path(LAYOUT.access_log).stat().st_size
    with httpx.Client(verify=trusted(machine)) as https:
        statuses = [https.get(url).status_code for _ in range(60)]
        assert set(statuses) == {200, 429} and statuses[:21] == [200] * 21  # 1 + burst 20, then the rate

        time.sleep(1.2)  # the limit refills at 10 a second
        too_big = https.post(
            f"https://{DOMAIN}/jsonrpc",
            content=b"[" + b" " * 300_000 + b"]",
            headers={"Content-Type": "application/json"},
        )
        assert too_big.status_code == 413
    lines = access_log_since(offset, len(statuses) + 1)
    assert [int(line.split('" ', 1)[1].split()[0]) for line in lines] == statuses + [413]
    upstream = f"upstream={machine.node.config()['http']['listen']} "
    assert all((upstream in line) == (status == 200) for line, status in zip(lines, statuses + [413], strict=True))
    assert "upstream=- " in lines[-1]

    time.sleep(1.2)
    batch = json.dumps(
        [
            {"jsonrpc": "2.0", "id": i, "method": "pactus.blockchain.get_blockchain_info", "params": {}}
            for i in range(1000)
        ]
    )  # one request, a thousand calls: beyond the body limit
    with httpx.Client(verify=trusted(machine)) as https:
        assert (
            https.post(
                f"https://{DOMAIN}/jsonrpc", content=batch, headers={"Content-Type": "application/json"}
            ).status_code
            == 413
        )

    time.sleep(2.1)  # gRPC draws on the same allowance: a whole one again
    codes = []
    with proxied_grpc(machine) as channel:
        stub = blockchain_pb2_grpc.BlockchainStub(channel)
        for _ in range(40):
            try:
                stub.GetBlockchainInfo(blockchain_pb2.GetBlockchainInfoRequest(), timeout=10)
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as error:
                codes.append(error.code())
    assert codes[:21] == [grpc.StatusCode.OK] * 21 and grpc.StatusCode.RESOURCE_EXHAUSTED in codes
    assert set(codes) == {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}
    time.sleep(2.1)  # and whole again for whoever calls next


def test_requests_in_progress_beyond_the_limit_are_refused_per_client(node, machine, tmp_path):
    """64 streams at once on one HTTP/2 connection: Nginx lets 32 be in progress. The rate a
    second is raised as high as it goes for this, or it would refuse most of them first."""
    up(node.stack, machine, {**stack_config(machine), "rateLimit": {"requestsPerSecond": 10_000, "burst": 100_000}})
    try:
        error_log = Path("/var/log/nginx/error.log")
        offset = error_log.stat().st_size
        load = subprocess.run(
            ["h2load", "-n", "256", "-c", "1", "-m", "64", f"https://{DOMAIN}{INFO_PATH}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "256 total" in load.stdout, load.stdout + load.stderr
        with error_log.open() as log:
            log.seek(offset)
            refused = log.read().count(f'limiting connections by zone "{LAYOUT.upstream_prefix}_connections"')
        assert refused > 0, load.stdout
    finally:
        up(node.stack, machine, stack_config(machine))


def test_plain_http_redirects_and_the_acme_path_serves_the_webroot(node, machine):
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


def test_only_80_and_443_are_open_to_the_world_and_tls_passes_testssl(node, machine, tmp_path):
    listening = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout.splitlines()
    nginx = {line.split()[3] for line in listening if '"nginx"' in line}
    assert {address.rsplit(":", 1)[1] for address in nginx} == {"80", "443"}
    node = machine.node.listeners()
    assert (
        len(node) >= 3
        and [a for a in node if not loopback(a) and a.rsplit(":", 1)[1] not in machine.node.p2p_ports()] == []
    )

    report = tmp_path / "testssl.json"
    scan = subprocess.run(
        [
            "testssl",
            "--quiet",
            "--color",
            "0",
            "--warnings",
            "off",
            "--add-ca",
            str(machine.issuing_root),
            "--jsonfile",
            str(report),
            f"{DOMAIN}:443",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    findings = {f["id"]: f for f in json.loads(report.read_text())}
    serious = [f for f in findings.values() if f["severity"] in ("MEDIUM", "HIGH", "CRITICAL")]
    assert not serious, json.dumps(serious, indent=1) + scan.stdout[-2000:]
    assert all(findings[p]["finding"] == "not offered" for p in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"))
    assert all(
        findings[c]["finding"] == "not offered"
        for c in (
            "cipherlist_NULL",
            "cipherlist_aNULL",
            "cipherlist_EXPORT",
            "cipherlist_LOW",
            "cipherlist_3DES_IDEA",
            "cipherlist_AVERAGE",
        )
    )
    assert findings["HSTS_time"]["severity"] == "OK" and findings["cert_chain_of_trust"]["finding"] == "passed."


def loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address.rsplit(":", 1)[0].strip("[]"))
    return (getattr(ip, "ipv4_mapped", None) or ip).is_loopback


def test_config_toml_keeps_the_operators_lines_and_the_daemon_took_it_as_it_is(node, machine):
    settings = settings_of(stack_config(machine))
    text = (machine.pactus_dir / "config.toml").read_text()
    config, original = tomllib.loads(text), tomllib.loads(machine.original_config)
    managed = managed_sections(settings)
    assert {name: config[name] for name in managed} == managed
    assert {k: v for k, v in config.items() if k not in managed} == {
        k: v for k, v in original.items() if k not in managed
    }
    # Byte for byte up to the first managed section, hand edits and all (init writes [grpc] after [logger]).
    assert text.startswith(machine.original_config[: machine.original_config.index("[grpc]")])
    assert all(line in text for line in (HAND_EDITS_PREFIX, HAND_EDITS_REWARD[1], HAND_EDITS_LOGGER[1]))
    assert machine.node.rejected_configs() == []  # Pactus decoded it strictly after its restart
    assert node.first_backups == [machine.original_config]
    listens = [section["listen"] for section in config.values() if "listen" in section]
    assert len(listens) == 4 and all(listen.startswith(("127.0.0.1:", "[::1]:")) for listen in listens)


def test_after_an_up_a_preview_shows_no_change_and_a_second_up_runs_no_remote_command(node, machine):
    files, nginx, sessions = managed_files(machine), nginx_processes(), machine.ssh_sessions()
    preview = node.stack.preview()
    assert set(preview.changes) == {"same"} and set(preview.planned.values()) == {"same"}
    assert "certificateExpiry" not in preview.output, preview.output  # no output shown as changing
    again = up(node.stack, machine)
    assert again.steps == [] and machine.ssh_sessions() == sessions
    assert managed_files(machine) == files and nginx_processes() == nginx


def test_every_script_run_again_on_the_deployed_host_changes_nothing(node, project, machine, tmp_path):
    """The same stack in a second backend knows none of the steps, so every script runs
    again: none may write, reload or restart anything. Its state is then dropped, not
    destroyed (destroy would remove the first stack's sites)."""
    files, nginx = managed_files(machine), nginx_processes()
    again = node_stack(Project(tmp_path, home=project.home), node.stack.name, stack_config(machine), machine)
    try:
        result = again.up()
    finally:
        again.remove()
    assert sorted(result.ran()) == sorted([n.PACKAGES, n.HTTP_SITE, n.CERTIFICATE, n.TLS_SITE, n.CONFIG_TOML])
    assert all("wrote" not in step.output and "reloaded" not in step.output for step in result.steps), result.steps
    assert managed_files(machine) == files and nginx_processes() == nginx


def test_an_origins_change_previews_and_applies_as_one_update_of_config_toml(node, machine):
    files, nginx = managed_files(machine), nginx_processes()
    changed_config = stack_config(machine, origins=("https://explorer.example.com",))
    node.stack.configure(changed_config)
    try:
        preview = node.stack.preview()
        changes = {name: op for name, op in preview.planned.items() if op != "same"}
        assert changes == {n.CONFIG_TOML: "update", n.CHECK: "replace"}  # the check runs again after it
        sessions = machine.ssh_sessions()
        changed = up(node.stack, machine)
        assert [(step.name, step.op) for step in changed.steps] == [(n.CONFIG_TOML, "update")]
        assert machine.ssh_sessions() == sessions + 1
        after = managed_files(machine)
        assert [path for path in files if after[path] != files[path]] == [str(machine.pactus_dir / "config.toml")]
        assert nginx_processes() == nginx
    finally:
        up(node.stack, machine, stack_config(machine))


def test_a_domain_change_previews_as_readme_says(node, machine):
    """README's "a new domain": the certificate step runs for the new name and the two site
    steps are replaced (their triggers name their files); nothing else. Previewed only."""
    node.stack.configure(
        this_host_as_the_node(
            machine,
            "renamed.test",
            machine.pactus_dir,
            jsonrpc={"enable": True, "origins": [ORIGIN]},
            http={"enable": True},
        )
    )
    try:
        sessions = machine.ssh_sessions()
        preview = node.stack.preview()
        assert machine.ssh_sessions() == sessions
    finally:
        node.stack.configure(stack_config(machine))
    changes = {name: op for name, op in preview.planned.items() if op != "same"}
    assert changes == {n.CERTIFICATE: "update", n.HTTP_SITE: "replace", n.TLS_SITE: "replace", n.CHECK: "replace"}


def test_a_renewal_succeeds_and_the_deploy_hook_reloads_nginx(node, machine):
    master, workers = nginx_processes()
    serial_before = _serial()
    # As cron runs it here (no systemd): with the environment our cron file gives it, nothing else.
    cron = Path(RENEWAL_CRON).read_text().splitlines()
    environment = dict(line.split("=", 1) for line in cron if "=" in line and not line.startswith(("#", "17 ")))
    assert environment == {"REQUESTS_CA_BUNDLE": str(machine.pebble_api_ca)}
    renewal = subprocess.run(
        [
            "certbot",
            "renew",
            "--force-renewal",
            "--cert-name",
            DOMAIN,
            "--non-interactive",
            "--no-random-sleep-on-renew",
        ],
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **environment},
        capture_output=True,
        text=True,
    )
    assert renewal.returncode == 0, renewal.stdout + renewal.stderr
    assert f"nginx reloaded for the renewed certificate of {DOMAIN}" in renewal.stdout + renewal.stderr
    assert _serial() != serial_before
    new_master, new_workers = nginx_processes()
    assert new_master == master and new_workers - workers  # old workers may linger on open connections


def test_certbot_from_pypi_renews_from_cron_where_systemd_does_not_run_and_distro_switches_back(node, machine):
    """`certbot: pypi` on this machine (Debian 12, no systemd): the venv's certbot replaces the
    package, and our cron line runs it; `certbot: distro` puts the package back."""
    own_cron = Path(RENEWAL_CRON)
    try:
        made = up(node.stack, machine, stack_config(machine, certbot="pypi")).step(n.CERTIFICATE).output
        assert "certbot 5.8.0 from PyPI in /opt/certbot: pactus-secure:certbot is pypi" in made, made
        assert not Path("/usr/bin/certbot").exists()  # the package is gone, and its cron line does nothing
        (line,) = [line for line in own_cron.read_text().splitlines() if line.startswith("17 ")]
        assert line.endswith("|| /opt/certbot/bin/certbot -q renew"), line
        environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "REQUESTS_CA_BUNDLE": str(machine.pebble_api_ca)}
        serial = _serial()
        renewal = subprocess.run(
            ["/opt/certbot/bin/certbot", "renew", "--cert-name", DOMAIN, "--force-renewal", "--non-interactive"]
            + ["--no-random-sleep-on-renew"],
            env=environment,
            capture_output=True,
            text=True,
        )
        assert renewal.returncode == 0, renewal.stdout + renewal.stderr
        assert _serial() != serial
        back = up(node.stack, machine, stack_config(machine, certbot="distro"))
        assert "removed certbot from PyPI (/opt/certbot)" in back.step(n.CERTIFICATE).output
        assert "installed: certbot" in back.step(n.PACKAGES).output
        assert not Path("/opt/certbot").is_symlink() and not Path("/opt/pactus-secure-certbot").exists()
        assert not Path("/opt/certbot").exists() and not Path("/usr/local/bin/certbot").is_symlink()
        assert own_cron.read_text().splitlines()[-1].endswith("|| /usr/bin/certbot -q renew")
    finally:
        up(node.stack, machine, stack_config(machine, certbot="distro"))
        up(node.stack, machine, stack_config(machine))


def _serial() -> str:
    return subprocess.run(
        ["openssl", "x509", "-noout", "-serial", "-in", LAYOUT.certificate], capture_output=True, text=True, check=True
    ).stdout


def test_basic_auth_guards_jsonrpc_and_http_api_in_nginx_and_grpc_in_pactus(node, machine):
    user, password = "operator", "correct horse battery staple"
    line = subprocess.run(
        ["htpasswd", "-nbB", "-C", "5", user, password], capture_output=True, text=True, check=True
    ).stdout.strip()
    node.stack.configure(
        {**stack_config(machine), "grpc": {"basicAuth": True}},
        secrets={"sshPrivateKey": machine.client_key, "basicAuth": line},
    )
    runs = up(node.stack, machine)
    assert sorted(runs.ran()) == sorted([n.CREDENTIAL, n.CONFIG_TOML, n.TLS_SITE])
    assert line not in runs.output and password not in runs.output
    assert all(line not in run.output and password not in run.output for run in runs.steps)
    assert_no_plain_secret_in_state(node.stack, machine, line)
    htpasswd = Path(LAYOUT.htpasswd)
    stat = htpasswd.stat()
    assert htpasswd.read_text() == line + "\n" and oct(stat.st_mode & 0o777) == "0o640"
    assert (stat.st_uid, grp.getgrgid(stat.st_gid).gr_name) == (0, "www-data")
    config = tomllib.loads((machine.pactus_dir / "config.toml").read_text())
    assert config["grpc"]["basic_auth"] == line

    with httpx.Client(verify=trusted(machine)) as https:
        assert https.get(f"https://{DOMAIN}{INFO_PATH}").status_code == 401
        assert https.get(f"https://{DOMAIN}{INFO_PATH}", auth=(user, "wrong")).status_code == 401
        # Nginx checks the credential and passes the header on; Pactus's HTTP-API hands it to its gRPC server.
        assert https.get(f"https://{DOMAIN}{INFO_PATH}", auth=(user, password)).status_code == 200
        preflight = https.options(
            f"https://{DOMAIN}/jsonrpc", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
        )
        assert preflight.status_code == 204  # browsers send preflights without credentials
    authorization = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    client = PactusOpenRPCClient({"Authorization": authorization}, f"https://{DOMAIN}/jsonrpc", verify=trusted(machine))
    assert asyncio.run(client.pactus.blockchain.get_blockchain_info())["total_validators"] > 0

    with proxied_grpc(machine) as channel:
        stub = blockchain_pb2_grpc.BlockchainStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetBlockchainInfo(blockchain_pb2.GetBlockchainInfoRequest(), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED  # the daemon's answer
        info = stub.GetBlockchainInfo(
            blockchain_pb2.GetBlockchainInfoRequest(), timeout=10, metadata=[("authorization", authorization)]
        )
        assert info.total_validators > 0

    node.stack.configure(stack_config(machine), secrets={"sshPrivateKey": machine.client_key})
    runs = up(node.stack, machine)  # basicAuth unset again: the file goes after the site stops naming it
    names = runs.ran()
    assert names.index(n.TLS_SITE) < names.index(n.CREDENTIAL) and not htpasswd.exists()
    with httpx.Client(verify=trusted(machine)) as https:
        assert https.get(f"https://{DOMAIN}{INFO_PATH}").status_code == 200


def test_basic_auth_alone_guards_grpc_in_nginx_and_no_options_request_runs_a_call(node, machine):
    """Without grpc.basicAuth, Nginx asks gRPC clients for the credential and answers UNAUTHENTICATED.
    Pactus runs the JSON-RPC call in an OPTIONS request's body (checked here against the daemon
    directly), and OPTIONS passes without a credential for CORS preflights: Nginx refuses it."""
    user, password = "operator", "correct horse battery staple"
    line = subprocess.run(
        ["htpasswd", "-nbB", "-C", "5", user, password], capture_output=True, text=True, check=True
    ).stdout.strip()
    node.stack.configure(stack_config(machine), secrets={"sshPrivateKey": machine.client_key, "basicAuth": line})
    up(node.stack, machine)
    authorization = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    with proxied_grpc(machine) as channel:
        stub = blockchain_pb2_grpc.BlockchainStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetBlockchainInfo(blockchain_pb2.GetBlockchainInfoRequest(), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert refused.value.details() == "this node asks for a credential (basic auth)"
        assert (
            stub.GetBlockchainInfo(
                blockchain_pb2.GetBlockchainInfoRequest(), timeout=10, metadata=[("authorization", authorization)]
            ).total_validators
            > 0
        )

    assert check_endpoint(node_endpoint(machine, basic_auth_required=True)).issuer.startswith("Pebble")

    call = '{"jsonrpc": "2.0", "id": 1, "method": "pactus.network.get_node_info", "params": {}}'
    direct = httpx.request(
        "OPTIONS", machine.node.jsonrpc_url(), content=call, headers={"Content-Type": "application/json"}
    )
    assert "peer_id" in direct.text  # the daemon runs it
    offset = Path(LAYOUT.access_log).stat().st_size
    with httpx.Client(verify=trusted(machine)) as https:
        smuggled = https.request(
            "OPTIONS", f"https://{DOMAIN}/jsonrpc", content=call, headers={"Content-Type": "application/json"}
        )
        assert smuggled.status_code == 400 and "peer_id" not in smuggled.text
        preflight = https.options(
            f"https://{DOMAIN}/jsonrpc", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
        )
        assert preflight.status_code == 204
    smuggled_line, preflight_line = access_log_since(offset, 2)
    assert "upstream=- " in smuggled_line and "upstream=- " not in preflight_line

    node.stack.configure(stack_config(machine), secrets={"sshPrivateKey": machine.client_key})
    up(node.stack, machine)  # and back to no credential


def test_destroy_removes_the_sites_and_leaves_nginx_and_the_certificate(node, machine):
    master, _ = nginx_processes()
    sessions = machine.ssh_sessions()
    result = node.stack.destroy()
    assert machine.ssh_sessions() == sessions + 2  # only the two sites have an undo script
    sites = [name for name in result.ran() if name in (n.TLS_SITE, n.HTTP_SITE)]
    assert sites == [n.TLS_SITE, n.HTTP_SITE]
    assert not Path(LAYOUT.tls_site).exists() and not Path(LAYOUT.http_site).exists()
    assert nginx_processes()[0] == master
    assert subprocess.run(["nginx", "-t"], capture_output=True).returncode == 0
    assert Path(LAYOUT.certificate).exists() and (machine.pactus_dir / "config.toml").exists()
    up(node.stack, machine)  # back as it was
    assert Path(LAYOUT.tls_site).exists() and Path(LAYOUT.http_site).exists()


def assert_no_plain_secret_in_state(stack: Stack, machine, basic_auth: str) -> None:
    """`pulumi stack export`: the SSH key, the credential line and a config.toml carrying its
    hash (grpc.basic_auth) appear only encrypted."""
    state = stack.export()
    key_lines = [line for line in machine.client_key.splitlines() if line and not line.startswith("-----")]
    hash_part = basic_auth.split(":", 1)[1]
    for secret in (*key_lines, basic_auth, hash_part):
        assert _places(state, secret) == []


def _places(value, text: str, path: str = "") -> list[str]:
    """Where in a JSON document a string holding `text` sits."""
    if isinstance(value, dict):
        return [hit for key, item in value.items() for hit in _places(item, text, f"{path}/{key}")]
    if isinstance(value, list):
        return [hit for index, item in enumerate(value) for hit in _places(item, text, f"{path}/{index}")]
    return [path] if isinstance(value, str) and text in value else []
