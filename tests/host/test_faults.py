"""Faults on a real host: whatever fails, the node and the proxy keep working, and the next
`up` converges without manual cleanup. Nodes faults.test and refused.test, beside the main
suite's node.test.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
from pactus_grpc import blockchain_pb2, blockchain_pb2_grpc
from pactus_jsonrpc.client import PactusOpenRPCClient

from components import names as n
from render.host_layout import ACME_WEBROOT, HostLayout
from render.nginx import render_tls_site
from tests.host.conftest import (FAULTS_DOMAIN, UNVALIDATED_DOMAIN, challtestsrv, forget_certificate, free_port,
                                 nginx_processes, pid_alive, this_host_as_the_node, trusted)
from tests.host.engine import Engine, Interrupted, RemoteCommandFailed
from tests.pulumi_mocks import STACK, deploy, settings_of

pytestmark = pytest.mark.host
LAYOUT = HostLayout(FAULTS_DOMAIN)
STEPS = (n.PACKAGES, n.HTTP_SITE, n.CERTIFICATE, n.TLS_SITE, n.CONFIG_TOML)  # in order; no firewall, no credential


@pytest.fixture
def pactus_dir(tmp_path) -> Path:
    directory = tmp_path / "pactus"
    directory.mkdir()
    return directory


def faults_config(machine, pactus_dir: Path, domain: str = FAULTS_DOMAIN, **overrides) -> dict:
    return this_host_as_the_node(machine, domain, pactus_dir, **{"jsonrpc": {"enable": True}, **overrides})


def up(engine: Engine, machine, config: dict, **kwargs):
    return engine.up(deploy(config, ssh_key=machine.client_key, cloudflare_token=None), **kwargs)


def ran(runs) -> list[str]:
    return [run.name for run in runs]


def new_node(domain: str = FAULTS_DOMAIN) -> None:
    """A host that never had the node: no sites, no certificate."""
    for path in Path("/etc/nginx/conf.d").glob(f"pactus-secure-{domain}-*"):
        path.unlink()
    forget_certificate(domain)
    if pid_alive("/run/nginx.pid"):
        subprocess.run(["nginx", "-s", "reload"], check=True)


def serves_jsonrpc(machine, domain: str = FAULTS_DOMAIN) -> bool:
    client = PactusOpenRPCClient({}, f"https://{domain}/jsonrpc", verify=trusted(machine))
    direct = PactusOpenRPCClient({}, machine.node.jsonrpc_url())
    answer = asyncio.run(client.pactus.blockchain.get_blockchain_info())
    return answer == asyncio.run(direct.pactus.blockchain.get_blockchain_info())


def port_80_redirects(domain: str) -> bool:
    request = urllib.request.Request(f"http://{domain}/jsonrpc")
    opener = urllib.request.build_opener(type("NoRedirect", (urllib.request.HTTPRedirectHandler,),
                                              {"redirect_request": lambda *args: None}))
    try:
        opener.open(request)
    except urllib.error.HTTPError as answer:
        return answer.code == 301 and answer.headers["Location"] == f"https://{domain}/jsonrpc"
    return False


def nginx_config_valid() -> bool:
    return subprocess.run(["nginx", "-t"], capture_output=True).returncode == 0


@pytest.mark.parametrize("step", STEPS[:-1])
def test_a_deploy_interrupted_after_any_step_converges_on_the_next_up(machine, pactus_dir, step):
    new_node()
    engine, config = Engine(), faults_config(machine, pactus_dir)
    with pytest.raises(Interrupted):
        up(engine, machine, config, interrupt_after=step)
    assert nginx_config_valid()
    done = {name for name in engine.state}
    assert set(STEPS[:STEPS.index(step) + 1]) <= done
    assert sorted(ran(up(engine, machine, config))) == sorted(set(STEPS) - done)
    assert serves_jsonrpc(machine)
    assert up(engine, machine, config) == []


def test_certbot_failing_leaves_port_80_serving_and_a_later_up_converges(machine, pactus_dir):
    """On a name no test has validated: the ACME server reuses a valid authorization without asking again."""
    domain = UNVALIDATED_DOMAIN
    new_node(domain)
    engine, config = Engine(), faults_config(machine, pactus_dir, domain)

    challtestsrv("/set-servfail", {"host": f"{domain}."})  # the CA cannot resolve the name
    try:
        with pytest.raises(RemoteCommandFailed) as refused:
            up(engine, machine, config)
    finally:
        challtestsrv("/clear-servfail", {"host": f"{domain}."})
    message = str(refused.value)
    assert message.startswith(f"create of {n.CERTIFICATE}")
    assert "The Certificate Authority reported these problems" in message  # certbot's own reason
    assert "could not resolve" in message and f"certbot got no certificate for {domain}" in message
    assert nginx_config_valid() and port_80_redirects(domain)
    assert not Path(HostLayout(domain).tls_site).exists()

    with pytest.raises(RemoteCommandFailed) as unreachable:
        up(engine, machine, faults_config(machine, pactus_dir, domain, acmeServer="https://127.0.0.1:1/dir"))
    assert str(unreachable.value).startswith(f"create of {n.CERTIFICATE}")
    assert "Connection refused" in str(unreachable.value)
    assert nginx_config_valid() and port_80_redirects(domain)

    # Only what failed and what waits for it runs again (config.toml may have run beside them).
    assert set(ran(up(engine, machine, config))) - {n.CONFIG_TOML} == {n.CERTIFICATE, n.TLS_SITE}
    assert serves_jsonrpc(machine, domain)


def test_a_config_nginx_rejects_never_goes_live_and_the_previous_site_keeps_serving(machine, pactus_dir):
    engine, config = Engine(), faults_config(machine, pactus_dir)
    up(engine, machine, config)
    live = Path(LAYOUT.tls_site).read_bytes()
    master, _ = nginx_processes()
    # Another file on the host already names the upstream the HTTP-API route would add.
    operator_file = Path("/etc/nginx/conf.d/zz-operator-upstreams.conf")
    operator_file.write_text("upstream pactus_faults_test_http { server 127.0.0.1:9; }\n")
    try:
        with pytest.raises(RemoteCommandFailed) as rejected:
            up(engine, machine, {**config, "http": {"enable": True}})
        message = str(rejected.value)
        assert f"create of {n.TLS_SITE}" in message
        assert 'duplicate upstream "pactus_faults_test_http"' in message  # nginx's own words
        assert f"nginx -t rejected the new {LAYOUT.tls_site}" in message
        assert f"the previous {LAYOUT.tls_site} is back" in message
        assert Path(LAYOUT.tls_site).read_bytes() == live
        assert [p.name for p in Path(LAYOUT.tls_site).parent.glob(Path(LAYOUT.tls_site).name + "?*")] == []
        assert nginx_processes()[0] == master and serves_jsonrpc(machine)
    finally:
        operator_file.unlink()
    assert n.TLS_SITE in ran(up(engine, machine, {**config, "http": {"enable": True}}))
    assert "location /http/ {" in Path(LAYOUT.tls_site).read_text() and serves_jsonrpc(machine)


def test_a_site_a_cut_off_run_left_unchecked_is_checked_by_the_next_up_and_put_back(machine, pactus_dir):
    """A run swapped in the new TLS site and was cut off before `nginx -t`: the file is already
    what the next run renders, so only the kept previous file tells that it was never checked."""
    engine, config = Engine(), faults_config(machine, pactus_dir)
    up(engine, machine, config)
    live = Path(LAYOUT.tls_site).read_bytes()
    unchecked = {**config, "http": {"enable": True}}
    operator_file = Path("/etc/nginx/conf.d/zz-operator-upstreams.conf")
    operator_file.write_text("upstream pactus_faults_test_http { server 127.0.0.1:9; }\n")
    try:
        Path(LAYOUT.tls_site + ".pactus-secure-previous").write_bytes(live)
        Path(LAYOUT.tls_site).write_text(render_tls_site(settings_of(unchecked, stack=STACK), http2_directive=False))
        with pytest.raises(RemoteCommandFailed) as rejected:
            up(Engine(), machine, unchecked)  # the engine lost the step with the run
        message = str(rejected.value)
        assert "was written by a run that did not finish checking it: checking it now" in message
        assert 'duplicate upstream "pactus_faults_test_http"' in message
        assert Path(LAYOUT.tls_site).read_bytes() == live
        assert [p.name for p in Path(LAYOUT.tls_site).parent.glob(Path(LAYOUT.tls_site).name + "?*")] == []
        assert serves_jsonrpc(machine)
    finally:
        operator_file.unlink()


def test_a_config_nginx_passes_but_cannot_take_up_is_put_back_and_a_later_up_converges(machine, pactus_dir):
    engine, config = Engine(), faults_config(machine, pactus_dir)
    up(engine, machine, config)
    live = Path(LAYOUT.tls_site).read_bytes()
    with_ipv6 = {**config, "hostIpv6": "2a01:4f8:c0c:1234::1"}
    with socket.socket(socket.AF_INET6) as squatter:  # another service holds HTTPS on IPv6
        squatter.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("::", 443))
        squatter.listen()
        with pytest.raises(RemoteCommandFailed) as not_taken:
            up(engine, machine, with_ipv6)
    message = str(not_taken.value)
    assert message.startswith(f"create of {n.TLS_SITE}") and "nginx -t" not in message
    assert "nginx did not take up its new configuration" in message and f"the previous {LAYOUT.tls_site} is back" in message
    assert Path(LAYOUT.tls_site).read_bytes() == live and serves_jsonrpc(machine)
    assert n.TLS_SITE in ran(up(engine, machine, with_ipv6))
    assert "listen [::]:443" in Path(LAYOUT.tls_site).read_text() and serves_jsonrpc(machine)


@pytest.mark.parametrize("target", ["refused", "silent"])
def test_an_unreachable_host_fails_after_the_configured_tries(machine, pactus_dir, target):
    tries, timeout = 3, 2
    ssh = {"sshPort": str(free_port())} if target == "refused" else {"sshHost": "203.0.113.1"}  # TEST-NET-3
    config = faults_config(machine, pactus_dir, sshDialErrorLimit=str(tries), sshPerDialTimeout=str(timeout), **ssh)
    started = time.monotonic()
    with pytest.raises(RemoteCommandFailed) as unreachable:
        up(Engine(), machine, config)
    elapsed = time.monotonic() - started
    assert elapsed < tries * (timeout + 1) + 5, elapsed
    message = str(unreachable.value)
    assert message.startswith(f"create of {n.NODE}-")  # the first step to run, whichever it is
    assert ("Connection refused" if target == "refused" else "203.0.113.1") in message


def test_a_server_showing_another_host_key_is_refused_before_any_command_runs(machine, pactus_dir, tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    config = faults_config(machine, pactus_dir, sshHostKey=(tmp_path / "other.pub").read_text().strip())
    with pytest.raises(RemoteCommandFailed) as refused:
        up(Engine(), machine, config)
    assert "Host key verification failed" in str(refused.value)
    assert not (pactus_dir / "config.toml").exists()


def test_a_node_that_is_down_is_answered_as_unavailable_in_grpc_terms(machine, pactus_dir):
    engine = Engine()
    up(engine, machine, faults_config(machine, pactus_dir, grpc={"listen": f"127.0.0.1:{free_port()}"}))
    credentials = grpc.ssl_channel_credentials(root_certificates=machine.issuing_root.read_bytes())
    with grpc.secure_channel(f"{FAULTS_DOMAIN}:443", credentials) as channel:
        with pytest.raises(grpc.RpcError) as down:
            blockchain_pb2_grpc.BlockchainStub(channel).GetBlockchainInfo(
                blockchain_pb2.GetBlockchainInfoRequest(), timeout=10)
    assert down.value.code() == grpc.StatusCode.UNAVAILABLE
    assert down.value.details() == "the Pactus node behind this proxy is unavailable"


ELSEWHERE = "elsewhere.test"
ELSEWHERE_ADDRESS = "10.213.0.2"


@pytest.fixture
def another_server(tmp_path):
    """Another web server, as a wrong A record would name it: its own network namespace at
    10.213.0.2, port 80 answering 404 for every path; elsewhere.test resolves to it."""
    namespace, hosts = "pactus-secure-elsewhere", Path("/etc/hosts").read_text()
    for command in (["ip", "netns", "add", namespace],
                    ["ip", "link", "add", "pse-host", "type", "veth", "peer", "name", "pse-other"],
                    ["ip", "link", "set", "pse-other", "netns", namespace],
                    ["ip", "addr", "add", "10.213.0.1/30", "dev", "pse-host"], ["ip", "link", "set", "pse-host", "up"],
                    ["ip", "-n", namespace, "addr", "add", f"{ELSEWHERE_ADDRESS}/30", "dev", "pse-other"],
                    ["ip", "-n", namespace, "link", "set", "pse-other", "up"]):
        subprocess.run(command, check=True)
    server = subprocess.Popen(["ip", "netns", "exec", namespace, sys.executable, "-m", "http.server", "80", "--bind",
                               ELSEWHERE_ADDRESS, "--directory", str(tmp_path)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex((ELSEWHERE_ADDRESS, 80)) == 0:
                    break
            time.sleep(0.1)
        Path("/etc/hosts").write_text(hosts + f"{ELSEWHERE_ADDRESS} {ELSEWHERE}\n")
        yield
    finally:
        Path("/etc/hosts").write_text(hosts)
        server.terminate()
        server.wait()
        subprocess.run(["ip", "netns", "del", namespace], check=False)
        subprocess.run(["ip", "link", "del", "pse-host"], check=False, capture_output=True)


def orders(machine) -> int:
    """New-order requests pebble has answered: an ACME request costs one."""
    return machine.pebble_log.read_text().count("/order-plz")


@pytest.mark.parametrize("domain, expected", [
    ("nowhere.test", "nowhere.test resolves to nothing (pactus-secure:host is 127.0.0.1); no address to ask "
                     "on port 80. Fix"),
    (ELSEWHERE, f"{ELSEWHERE} resolves to {ELSEWHERE_ADDRESS} (pactus-secure:host is 127.0.0.1); "
                f"{ELSEWHERE_ADDRESS} answered HTTP/1.0 404 File not found. Fix"),
])
def test_no_certificate_is_asked_for_while_the_name_does_not_lead_to_this_host(machine, pactus_dir, another_server,
                                                                                domain, expected):
    before = orders(machine)
    config = faults_config(machine, pactus_dir, domain=domain, precheckTimeout="6")
    try:
        started = time.monotonic()
        with pytest.raises(RemoteCommandFailed) as refused:
            up(Engine(), machine, config)
        message = str(refused.value)
        assert message.startswith(f"create of {n.CERTIFICATE}")
        assert "no certificate requested" in message and expected in message, message
        assert "Fix the A record to point at 127.0.0.1" in message and "checked for 6s: precheckTimeout" in message
        assert 6 <= time.monotonic() - started < 60  # it waited for DNS, then gave up
        assert orders(machine) == before  # no ACME request made
        assert not list(Path(ACME_WEBROOT, ".well-known/acme-challenge").glob("pactus-secure-precheck-*"))
    finally:
        new_node(domain)
