"""Faults on a real host, through the real engine: whatever fails, the node and the proxy
keep working, and the next `up` converges without manual cleanup. Nodes faults.test and
refused.test, beside the main suite's node.test; each test has a stack of its own, whose
APIs lead to the suite's one running pactus-daemon.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import urllib.request
from itertools import count
from pathlib import Path

import grpc
import pytest
from pactus_grpc import blockchain_pb2, blockchain_pb2_grpc
from pactus_jsonrpc.client import PactusOpenRPCClient

from components import names as n
from render.host_layout import ACME_WEBROOT, HostLayout
from render.nginx import render_tls_site
from testbed.configs import settings_of
from testbed.processes import pid_alive
from testbed.stack import Project, Stack, StackFailed
from testbed.this_machine import (
    FAULTS_DOMAIN,
    UNVALIDATED_DOMAIN,
    beside_the_running_node,
    challtestsrv,
    forget_certificate,
    free_port,
    nginx_processes,
    node_stack,
    trusted,
)

pytestmark = pytest.mark.host
LAYOUT = HostLayout(FAULTS_DOMAIN)


@pytest.fixture
def fresh_pactus_dir(tmp_path) -> Path:
    directory = tmp_path / "pactus"
    directory.mkdir()
    return directory


def faults_config(machine, fresh_pactus_dir: Path, domain: str = FAULTS_DOMAIN, **overrides) -> dict:
    return beside_the_running_node(machine, domain, fresh_pactus_dir, **overrides)


def with_http(machine, config: dict) -> dict:
    return {**config, "http": {"enable": True, "listen": machine.node.loopback_listens()["http"]}}


_stacks = count()


@pytest.fixture
def new_stack(project, machine):
    """A stack of its own for a test (`pulumi stack rm --force` afterwards: its files on the
    host are the next test's to clean)."""
    made: list[Stack] = []

    def make(config: dict) -> Stack:
        made.append(node_stack(project, f"faults-{next(_stacks)}", config, machine))
        return made[-1]

    yield make
    for stack in made:
        stack.remove()


def new_node(domain: str = FAULTS_DOMAIN) -> None:
    """A host that never had the node: no sites, no certificate."""
    for path in Path("/etc/nginx/conf.d").glob(f"pactus-secure-{domain}-*"):
        path.unlink()
    forget_certificate(domain)
    if pid_alive("/run/nginx.pid"):
        subprocess.run(["nginx", "-s", "reload"], check=True)


# What names the node in its blockchain info; its other fields (the last block's time, the
# blocks left to sync) may move between two calls, as they did once in CI.
NODE_IDENTITY = ("chain_type", "total_validators", "committee_size", "total_accounts")


def serves_jsonrpc(machine, domain: str = FAULTS_DOMAIN) -> bool:
    """JSON-RPC through Nginx answers as the suite's node does on loopback."""
    client = PactusOpenRPCClient({}, f"https://{domain}/jsonrpc", verify=trusted(machine))
    direct = PactusOpenRPCClient({}, machine.node.jsonrpc_url())
    answer = asyncio.run(client.pactus.blockchain.get_blockchain_info())
    own = asyncio.run(direct.pactus.blockchain.get_blockchain_info())
    return [answer.get(key) for key in NODE_IDENTITY] == [own.get(key) for key in NODE_IDENTITY] and answer.get(
        "total_validators", 0
    ) > 0


def port_80_redirects(domain: str) -> bool:
    request = urllib.request.Request(f"http://{domain}/jsonrpc")
    opener = urllib.request.build_opener(
        type("NoRedirect", (urllib.request.HTTPRedirectHandler,), {"redirect_request": lambda *args: None})
    )
    try:
        opener.open(request)
    except urllib.error.HTTPError as answer:
        return answer.code == 301 and answer.headers["Location"] == f"https://{domain}/jsonrpc"
    return False


def nginx_config_valid() -> bool:
    return subprocess.run(["nginx", "-t"], capture_output=True).returncode == 0


@pytest.mark.parametrize("step", n.REQUIRED_STEPS[:-1])
def test_a_deploy_killed_after_any_step_converges_on_the_next_up(machine, fresh_pactus_dir, new_stack, step):
    """The CLI, its language host and the provider get SIGKILL once the step is done, as when
    a CI job is cancelled; README's recovery commands, then one `up` converge."""
    new_node()
    stack = new_stack(faults_config(machine, fresh_pactus_dir))
    printed = stack.up_killed(lambda line: f"command:remote:Command {step} created" in line)
    assert f"{step} created" in printed
    assert nginx_config_valid()
    stack.recover()
    result = stack.up()
    # The state may or may not have recorded the step before the kill: run again, it has nothing to do.
    assert (
        set(result.ran()) <= set(n.REQUIRED_STEPS)
        and [s for s in result.steps if s.name == step and "wrote" in s.output] == []
    )
    assert serves_jsonrpc(machine)
    assert stack.up().steps == []
    assert not list(stack.project.backend.rglob("*.attrs"))  # nothing a kill can leave half-written


def test_a_deploy_killed_in_the_certificate_step_leaves_the_node_serving_and_recovers(
    machine, fresh_pactus_dir, new_stack
):
    """SIGKILL to the whole process group while certbot's step waits for a new name: the
    sites of the name the node has keep serving, and README's recovery brings the next `up`
    to convergence."""
    new_node()
    config = faults_config(machine, fresh_pactus_dir)
    stack = new_stack(config)
    stack.up()
    stack.configure(faults_config(machine, fresh_pactus_dir, domain="waiting.test", precheckTimeout="120"))
    printed = stack.up_killed(lambda line: f"{n.CERTIFICATE} updating" in line, timeout=120)
    assert f"{n.CERTIFICATE} updating" in printed and f"{n.CERTIFICATE} updated" not in printed
    time.sleep(1)
    assert nginx_config_valid() and serves_jsonrpc(machine)  # faults.test as it was
    with pytest.raises(StackFailed) as locked:
        stack.up()
    assert "pulumi cancel" in locked.value.output or "pending" in locked.value.output, locked.value.output
    stack.recover()
    stack.configure(config)
    stack.up()
    assert stack.up().steps == [] and serves_jsonrpc(machine)
    new_node("waiting.test")


def failed_in(output: str, step: str) -> bool:
    """Pulumi's diagnostics name the resource whose step failed."""
    return f"command:remote:Command ({step}):" in output


def test_certbot_failing_leaves_port_80_serving_and_a_later_up_converges(machine, fresh_pactus_dir, new_stack):
    """On a name no test has validated: the ACME server reuses a valid authorization without asking again."""
    domain = UNVALIDATED_DOMAIN
    new_node(domain)
    config = faults_config(machine, fresh_pactus_dir, domain)
    stack = new_stack(config)

    challtestsrv("/set-servfail", {"host": f"{domain}."})  # the CA cannot resolve the name
    try:
        with pytest.raises(StackFailed) as refused:
            stack.up()
    finally:
        challtestsrv("/clear-servfail", {"host": f"{domain}."})
    message = refused.value.output
    assert failed_in(message, n.CERTIFICATE)
    assert "The Certificate Authority reported these problems" in message  # certbot's own reason
    assert "could not resolve" in message and f"certbot got no certificate for {domain}" in message
    assert "Traceback" not in message and "KeyboardInterrupt" not in message
    assert nginx_config_valid() and port_80_redirects(domain)
    assert not Path(HostLayout(domain).tls_site).exists()

    stack.configure(faults_config(machine, fresh_pactus_dir, domain, acmeServer="https://127.0.0.1:1/dir"))
    with pytest.raises(StackFailed) as unreachable:
        stack.up()
    assert failed_in(unreachable.value.output, n.CERTIFICATE)
    assert "Connection refused" in unreachable.value.output
    assert nginx_config_valid() and port_80_redirects(domain)

    # Only what failed and what waits for it runs again.
    stack.configure(config)
    assert set(stack.up().ran()) == {n.CERTIFICATE, n.TLS_SITE}
    assert serves_jsonrpc(machine, domain)


def test_a_config_nginx_rejects_never_goes_live_and_the_previous_site_keeps_serving(
    machine, fresh_pactus_dir, new_stack
):
    config = faults_config(machine, fresh_pactus_dir)
    stack = new_stack(config)
    stack.up()
    live = Path(LAYOUT.tls_site).read_bytes()
    master, _ = nginx_processes()
    # Another file on the host already names the upstream the HTTP-API route would add.
    operator_file = Path("/etc/nginx/conf.d/zz-operator-upstreams.conf")
    operator_file.write_text("upstream pactus_faults_test_http { server 127.0.0.1:9; }\n")
    stack.configure(with_http(machine, config))
    try:
        with pytest.raises(StackFailed) as rejected:
            stack.up()
        message = rejected.value.output
        assert failed_in(message, n.TLS_SITE)
        assert 'duplicate upstream "pactus_faults_test_http"' in message  # nginx's own words
        assert f"nginx -t rejected the new {LAYOUT.tls_site}" in message
        assert f"the previous {LAYOUT.tls_site} is back" in message
        assert "Traceback" not in message and "KeyboardInterrupt" not in message
        assert Path(LAYOUT.tls_site).read_bytes() == live
        assert [p.name for p in Path(LAYOUT.tls_site).parent.glob(Path(LAYOUT.tls_site).name + "?*")] == []
        assert nginx_processes()[0] == master and serves_jsonrpc(machine)
    finally:
        operator_file.unlink()
    assert n.TLS_SITE in stack.up().ran()
    assert "location /http/ {" in Path(LAYOUT.tls_site).read_text() and serves_jsonrpc(machine)


def test_a_site_a_cut_off_run_left_unchecked_is_checked_by_the_next_up_and_put_back(
    machine, fresh_pactus_dir, new_stack, project, tmp_path
):
    """A run swapped in the new TLS site and was cut off before `nginx -t`: the file is already
    what the next run renders, so only the kept previous file tells that it was never checked."""
    config = faults_config(machine, fresh_pactus_dir)
    first = new_stack(config)
    first.up()
    live = Path(LAYOUT.tls_site).read_bytes()
    unchecked = with_http(machine, config)
    # The same stack in a backend that never saw the step: the run's state was lost with it.
    lost = node_stack(Project(tmp_path, home=project.home), first.name, unchecked, machine)
    operator_file = Path("/etc/nginx/conf.d/zz-operator-upstreams.conf")
    operator_file.write_text("upstream pactus_faults_test_http { server 127.0.0.1:9; }\n")
    try:
        Path(LAYOUT.tls_site + ".pactus-secure-previous").write_bytes(live)
        Path(LAYOUT.tls_site).write_text(
            render_tls_site(settings_of(unchecked, stack=lost.name), http2_directive=False, njs=True)
        )
        with pytest.raises(StackFailed) as rejected:
            lost.up()
        message = rejected.value.output
        assert "was written by a run that did not finish checking it: checking it now" in message
        assert 'duplicate upstream "pactus_faults_test_http"' in message
        assert "Traceback" not in message and "KeyboardInterrupt" not in message
        assert Path(LAYOUT.tls_site).read_bytes() == live
        assert [p.name for p in Path(LAYOUT.tls_site).parent.glob(Path(LAYOUT.tls_site).name + "?*")] == []
        assert serves_jsonrpc(machine)
    finally:
        operator_file.unlink()


def test_a_config_nginx_passes_but_cannot_take_up_is_put_back_and_a_later_up_converges(
    machine, fresh_pactus_dir, new_stack
):
    config = faults_config(machine, fresh_pactus_dir)
    stack = new_stack(config)
    stack.up()
    live = Path(LAYOUT.tls_site).read_bytes()
    stack.configure({**config, "hostIpv6": "2a01:4f8:c0c:1234::1"})
    with socket.socket(socket.AF_INET6) as squatter:  # another service holds HTTPS on IPv6
        squatter.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("::", 443))
        squatter.listen()
        with pytest.raises(StackFailed) as not_taken:
            stack.up()
    message = not_taken.value.output
    assert failed_in(message, n.TLS_SITE) and "nginx -t rejected" not in message
    assert (
        "nginx did not take up its new configuration" in message
        and f"the previous {LAYOUT.tls_site} is back" in message
    )
    assert Path(LAYOUT.tls_site).read_bytes() == live and serves_jsonrpc(machine)
    assert n.TLS_SITE in stack.up().ran()
    assert "listen [::]:443" in Path(LAYOUT.tls_site).read_text() and serves_jsonrpc(machine)


@pytest.mark.parametrize("target", ["refused", "silent"])
def test_an_unreachable_host_fails_after_the_configured_tries(machine, fresh_pactus_dir, new_stack, target):
    tries, timeout = 3, 2
    ssh = {"sshPort": str(free_port())} if target == "refused" else {"sshHost": "203.0.113.1"}  # TEST-NET-3
    config = faults_config(
        machine, fresh_pactus_dir, sshDialErrorLimit=str(tries), sshPerDialTimeout=str(timeout), **ssh
    )
    stack = new_stack(config)
    started = time.monotonic()
    with pytest.raises(StackFailed) as unreachable:
        stack.up()
    elapsed = time.monotonic() - started
    assert elapsed < tries * (timeout + 1) + 30, elapsed
    message = unreachable.value.output
    assert f"command:remote:Command ({n.NODE}-" in message  # the first step to run, whichever it is
    assert ("connection refused" if target == "refused" else "203.0.113.1") in message.lower()


def test_a_host_that_accepts_and_never_speaks_ssh_fails_up_in_bounded_time(machine, fresh_pactus_dir, new_stack):
    """A tarpit on loopback: the TCP connect succeeds, no greeting ever comes. The provider's
    per-dial timeout does not bound its handshake, so without the program's probe `up` waits
    without end (seen past 190 s)."""
    tarpit = socket.create_server(("127.0.0.1", 0), backlog=16)
    tries, timeout = 2, 3
    config = faults_config(
        machine,
        fresh_pactus_dir,
        sshHost="127.0.0.1",
        sshPort=str(tarpit.getsockname()[1]),
        sshDialErrorLimit=str(tries),
        sshPerDialTimeout=str(timeout),
    )
    stack = new_stack(config)
    started = time.monotonic()
    try:
        with pytest.raises(StackFailed) as silent:
            stack.up()
    finally:
        tarpit.close()
    assert time.monotonic() - started < tries * timeout + 60
    message = silent.value.output
    assert f"127.0.0.1:{config['sshPort']} accepts connections but sent no SSH greeting within 3 s, 2 times" in message
    assert "command:remote:Command" not in message  # no step was started


def test_a_server_showing_another_host_key_is_refused_before_any_command_runs(
    machine, fresh_pactus_dir, new_stack, tmp_path
):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    config = faults_config(machine, fresh_pactus_dir, sshHostKey=(tmp_path / "other.pub").read_text().strip())
    sessions = machine.ssh_sessions()
    with pytest.raises(StackFailed) as refused:
        new_stack(config).up()
    assert "host key mismatch" in refused.value.output.lower() or "hostkey" in refused.value.output.lower(), (
        refused.value.output
    )
    assert machine.ssh_sessions() == sessions and not (fresh_pactus_dir / "config.toml").exists()


def test_a_node_that_is_down_is_answered_as_unavailable_in_grpc_terms(machine, fresh_pactus_dir, new_stack):
    """The up fails at the endpoint check, which names what the client got."""
    stack = new_stack(faults_config(machine, fresh_pactus_dir, grpc={"listen": f"127.0.0.1:{free_port()}"}))
    with pytest.raises(StackFailed) as checked:
        stack.up()
    assert "the endpoint check failed" in checked.value.output
    assert "got UNAVAILABLE: the Pactus node behind this proxy is unavailable" in checked.value.output
    credentials = grpc.ssl_channel_credentials(root_certificates=machine.issuing_root.read_bytes())
    with grpc.secure_channel(f"{FAULTS_DOMAIN}:443", credentials) as channel:
        with pytest.raises(grpc.RpcError) as down:
            blockchain_pb2_grpc.BlockchainStub(channel).GetBlockchainInfo(
                blockchain_pb2.GetBlockchainInfoRequest(), timeout=10
            )
    assert down.value.code() == grpc.StatusCode.UNAVAILABLE
    assert down.value.details() == "the Pactus node behind this proxy is unavailable"


ELSEWHERE = "elsewhere.test"
ELSEWHERE_ADDRESS = "10.213.0.2"


@pytest.fixture
def another_server(tmp_path):
    """Another web server, as a wrong A record would name it: its own network namespace at
    10.213.0.2, port 80 answering 404 for every path; elsewhere.test resolves to it."""
    namespace, hosts = "pactus-secure-elsewhere", Path("/etc/hosts").read_text()
    for command in (
        ["ip", "netns", "add", namespace],
        ["ip", "link", "add", "pse-host", "type", "veth", "peer", "name", "pse-other"],
        ["ip", "link", "set", "pse-other", "netns", namespace],
        ["ip", "addr", "add", "10.213.0.1/30", "dev", "pse-host"],
        ["ip", "link", "set", "pse-host", "up"],
        ["ip", "-n", namespace, "addr", "add", f"{ELSEWHERE_ADDRESS}/30", "dev", "pse-other"],
        ["ip", "-n", namespace, "link", "set", "pse-other", "up"],
    ):
        subprocess.run(command, check=True)
    server = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            namespace,
            sys.executable,
            "-m",
            "http.server",
            "80",
            "--bind",
            ELSEWHERE_ADDRESS,
            "--directory",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
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


@pytest.mark.parametrize(
    "domain, expected",
    [
        (
            "nowhere.test",
            "nowhere.test resolves to nothing (pactus-secure:host is 127.0.0.1); no address to ask on port 80. Fix",
        ),
        (
            ELSEWHERE,
            f"{ELSEWHERE} resolves to {ELSEWHERE_ADDRESS} (pactus-secure:host is 127.0.0.1); "
            f"{ELSEWHERE_ADDRESS} answered HTTP/1.0 404 File not found. Fix",
        ),
    ],
)
def test_no_certificate_is_asked_for_while_the_name_does_not_lead_to_this_host(
    machine, fresh_pactus_dir, another_server, new_stack, domain, expected
):
    before = orders(machine)
    config = faults_config(machine, fresh_pactus_dir, domain=domain, precheckTimeout="6")
    try:
        started = time.monotonic()
        with pytest.raises(StackFailed) as refused:
            new_stack(config).up()
        message = refused.value.output
        assert failed_in(message, n.CERTIFICATE)
        assert "no certificate requested" in message and expected in message, message
        assert "Fix the A record to point at 127.0.0.1" in message and "checked for 6s: precheckTimeout" in message
        assert 6 <= time.monotonic() - started < 60  # it waited for DNS, then gave up
        assert orders(machine) == before  # no ACME request made
        assert not list(Path(ACME_WEBROOT, ".well-known/acme-challenge").glob("pactus-secure-precheck-*"))
    finally:
        new_node(domain)
