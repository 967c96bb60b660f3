"""Real Debian 12 and 13 servers booted with systemd (testbed/servers.py): what every
real server does, which this machine (no systemd) cannot show. The real engine deploys
to them (a stack each) through pulumi-command over SSH as `deploy` with sudo; pebble on
this machine issues their certificates.

One deployment per server is made in setup and destroyed in teardown. A test that changes
one puts it back as it found it, so the tests hold in any order.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import ssl
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from pactus_grpc import blockchain_pb2, blockchain_pb2_grpc

from clients.endpoint import Endpoint, EndpointCheckFailed, check_endpoint
from components import names as n
from render.host_layout import HostLayout
from testbed import pebble, servers
from testbed.processes import terminate
from testbed.stack import Project, Result, Stack, StackFailed
from testbed.this_machine import challtestsrv, network_trust, node_stack

pytestmark = pytest.mark.host
SUITES = {"bookworm": 12, "trixie": 13}  # Debian release: its subnet number
PEBBLE_CA_ON_SERVER = "/etc/pactus-secure-test/pebble.pem"


@dataclass
class Deployed:
    server: servers.Server
    stack: Stack
    first_up: Result  # what the up in setup ran


def domain(suite: str) -> str:
    return f"{suite}.test"


@pytest.fixture(scope="module")
def deployments(machine, project, tmp_path_factory):
    """Both servers booted, pebble's DNS pointing their names at them and this machine too, each
    deployed by its own stack (destroyed afterwards)."""
    work = tmp_path_factory.mktemp("servers")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "deploy_key")], check=True)
    public_key = (work / "deploy_key.pub").read_text().strip()
    hosts_before = Path("/etc/hosts").read_text()
    booted, nodes = {}, {}
    forwarding = servers.route_to_the_mirror()
    try:
        for suite, number in SUITES.items():
            address = f"10.77.{number}.2"
            booted[suite] = servers.prepare(
                f"pst-{suite}",
                suite,
                number,
                work,
                public_key,
                {
                    "/etc/hostname": f"pst-{suite}\n",
                    "/etc/hosts": f"127.0.0.1 localhost pst-{suite}\n{address} {domain(suite)}\n",
                    PEBBLE_CA_ON_SERVER: machine.pebble_api_ca.read_text(),
                    **network_trust(),
                },
            )
            challtestsrv("/add-a", {"host": domain(suite), "addresses": [address]})
        with ThreadPoolExecutor(len(booted)) as pool:
            list(pool.map(lambda server: server.boot(), booted.values()))
        for server in booted.values():
            server.ssh("sudo update-ca-certificates >/dev/null")
        Path("/etc/hosts").write_text(
            hosts_before + "".join(f"{server.address} {domain(suite)}\n" for suite, server in booted.items())
        )
        for suite, server in booted.items():
            deployed = node_stack(project, suite, stack(suite, server, machine), machine, key=server.key.read_text())
            nodes[suite] = Deployed(server, deployed, deployed.up())
        yield nodes
    finally:
        try:
            for node in nodes.values():
                node.stack.destroy()
        finally:
            Path("/etc/hosts").write_text(hosts_before)
            for server in booted.values():
                server.stop()
            servers.stop_routing(forwarding)


def stack(suite: str, server: servers.Server, machine, **overrides) -> dict:
    """The suite's stack config; an override of None leaves its key unset."""
    config = {
        "domain": domain(suite),
        "host": server.address,
        "allowPrivateHost": "true",
        "sshUser": "deploy",
        "sshHostKey": (server.root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().strip(),
        "acmeEmail": "ops@example.com",
        "manageDns": "false",
        "acmeServer": pebble.Ports().directory(server.gateway),
        "acmeCaBundle": PEBBLE_CA_ON_SERVER,
        "checkCaBundle": str(machine.issuing_root),
        "pactusDir": servers.PACTUS_DIR,
        "pactusService": "pactus.service",
        "jsonrpc": {"enable": True},
        "http": {"enable": True},
        **overrides,
    }
    return {key: value for key, value in config.items() if value is not None}


def node_endpoint(suite: str, machine) -> Endpoint:
    """A server's APIs as the endpoint check calls them, trusting pebble's root."""
    return Endpoint(
        name=domain(suite),
        grpc=True,
        jsonrpc_path="/jsonrpc",
        http_base_path="/http",
        basic_auth_required=False,
        ca_bundle=str(machine.issuing_root),
    )


def up(deployments, suite: str, machine, **overrides):
    server, deployed = deployments[suite].server, deployments[suite].stack
    deployed.configure(stack(suite, server, machine, **overrides))
    return deployed.up()


@pytest.mark.parametrize("suite", SUITES)
def test_a_fresh_up_installs_nginx_and_certbot_issues_and_serves_under_systemd(deployments, machine, suite):
    server = deployments[suite].server
    runs = {run.name: run for run in deployments[suite].first_up.steps}
    assert sorted(runs) == sorted([n.PACKAGES, n.HTTP_SITE, n.CERTIFICATE, n.TLS_SITE, n.CONFIG_TOML])
    assert "installed: nginx" in runs[n.PACKAGES].output
    assert "restarted pactus.service with the new config" in runs[n.CONFIG_TOML].output
    for unit in ("nginx", "pactus", "certbot.timer"):
        assert server.ssh(f"systemctl is-active {unit}").stdout.strip() == "active", unit
    site = server.ssh(f"cat {HostLayout(domain(suite)).tls_site}").stdout
    nginx_version = server.ssh("/usr/sbin/nginx -v 2>&1").stdout
    modern = suite == "trixie"  # nginx 1.26 on Debian 13, 1.22 on Debian 12
    assert ("http2 on;" in site) == modern and ("listen 443 ssl http2;" in site) != modern, nginx_version
    served = check_endpoint(node_endpoint(suite, machine))
    assert served.issuer.startswith("Pebble")
    credentials = grpc.ssl_channel_credentials(machine.issuing_root.read_bytes())
    with grpc.secure_channel(f"{domain(suite)}:443", credentials) as channel:
        info = blockchain_pb2_grpc.BlockchainStub(channel).GetBlockchainInfo(
            blockchain_pb2.GetBlockchainInfoRequest(), timeout=10
        )
    assert info.total_validators > 0


@pytest.mark.parametrize("suite", SUITES)
def test_certbots_own_timer_renews_and_the_hook_reloads_nginx_through_systemd(deployments, machine, suite):
    server = deployments[suite].server
    layout = HostLayout(domain(suite))
    serial = server.ssh(f"sudo openssl x509 -noout -serial -in {layout.certificate}").stdout
    assert "certbot.timer" in server.ssh("systemctl list-timers --all").stdout
    force_renewal_through_the_timers_service(server)
    renewed = server.ssh(f"sudo openssl x509 -noout -serial -in {layout.certificate}").stdout
    assert renewed != serial
    # The deploy hook reloaded Nginx through systemd, and the new certificate is the one served.
    assert "Reloaded nginx.service" in server.ssh("sudo journalctl -u nginx.service --no-pager").stdout
    assert serial_served_after(server, suite, serial) == renewed


def force_renewal_through_the_timers_service(server: servers.Server) -> None:
    """certbot.service as the timer starts it (with our CA drop-in), forced to renew now."""
    server.ssh(
        "sudo mkdir -p /run/systemd/system/certbot.service.d && printf '[Service]\\nExecStart=\\n"
        "ExecStart=/usr/bin/certbot -q renew --force-renewal --no-random-sleep-on-renew\\n' | "
        "sudo tee /run/systemd/system/certbot.service.d/force.conf >/dev/null && sudo systemctl daemon-reload"
    )
    try:
        server.ssh("sudo systemctl start certbot.service", timeout=180)
    finally:
        server.ssh("sudo rm -rf /run/systemd/system/certbot.service.d && sudo systemctl daemon-reload")


@pytest.mark.parametrize("suite", SUITES)
def test_a_config_the_daemon_refuses_at_start_is_rolled_back_and_the_service_runs_again(deployments, machine, suite):
    server = deployments[suite].server
    before = server.ssh(f"sudo cat {servers.PACTUS_DIR}/config.toml").stdout
    with pytest.raises(StackFailed) as refused:  # port 22: sshd's, and below 1024 for the pactus user
        up(deployments, suite, machine, jsonrpc={"enable": True, "listen": "127.0.0.1:22"})
    message = refused.value.output
    assert f"command:remote:Command ({n.CONFIG_TOML}):" in message and "Traceback" not in message
    assert "pactus.service did not come up with the new config.toml (it stopped): " in message
    assert f"the previous {servers.PACTUS_DIR}/config.toml is back and pactus.service restarted with it" in message
    assert "could not start JSON-RPC server: listen tcp 127.0.0.1:22: bind:" in message, message  # the daemon's own
    assert server.ssh(f"sudo cat {servers.PACTUS_DIR}/config.toml").stdout == before
    for _ in range(20):
        if server.ssh("systemctl is-active pactus", check=False).stdout.strip() == "active":
            break
        server.ssh("sleep 1")
    assert server.ssh("systemctl is-active pactus").stdout.strip() == "active"
    # The stack as it was: the failed up had moved the TLS site's JSON-RPC route to port 22;
    # config.toml is as before, so only the site changes back.
    assert up(deployments, suite, machine).ran() == [n.TLS_SITE]


@pytest.mark.parametrize("suite", SUITES)
def test_the_nodes_directory_stays_the_pactus_users(deployments, suite):
    server = deployments[suite].server
    owners = server.ssh(
        f"sudo sh -c \"stat -c '%U %a %n' {servers.PACTUS_DIR} {servers.PACTUS_DIR}/config.toml "
        f'{servers.PACTUS_DIR}/config.toml.pactus-secure-backup-*"'
    ).stdout.splitlines()
    assert len(owners) >= 3 and all(line.startswith("pactus ") for line in owners), owners
    assert owners[1].split()[1] == "600", owners  # as pactus-daemon init made it


@pytest.mark.parametrize("suite", SUITES)
def test_after_a_reboot_everything_comes_back_by_itself(deployments, machine, project, suite, tmp_path):
    server = deployments[suite].server
    server.stop()
    server.boot()
    for unit in ("nginx", "pactus", "certbot.timer"):
        assert server.ssh(f"systemctl is-active {unit}").stdout.strip() == "active", unit
    endpoint = node_endpoint(suite, machine)
    deadline = time.monotonic() + 60  # the node opens its APIs a moment after its unit is active
    while True:
        try:
            check_endpoint(endpoint)
            break
        except EndpointCheckFailed:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    assert up(deployments, suite, machine).steps == []
    # Every script run again (the same stack in a backend that knows none of its steps): after
    # the reboot none has anything to do. That state is dropped, not destroyed.
    again = node_stack(
        Project(tmp_path, home=project.home), suite, stack(suite, server, machine), machine, key=server.key.read_text()
    )
    try:
        runs = again.up().steps
    finally:
        again.remove()
    assert len(runs) == 5 and not [
        run.name
        for run in runs
        if "wrote" in run.output or "reloaded" in run.output or "restarted" in run.output or "issued" in run.output
    ]


@pytest.mark.parametrize("suite", SUITES)
def test_destroy_leaves_nothing_of_ours_served_and_nginx_running(deployments, suite):
    server, deployed = deployments[suite].server, deployments[suite].stack
    deployed.destroy()
    layout = HostLayout(domain(suite))
    assert server.ssh(f"test -e {layout.tls_site} || test -e {layout.http_site}", check=False).returncode != 0
    assert server.ssh("sudo /usr/sbin/nginx -t", check=False).returncode == 0
    assert server.ssh("systemctl is-active nginx").stdout.strip() == "active"
    assert {n.HTTP_SITE, n.TLS_SITE} <= set(deployed.up().ran())  # back as it was


# A second pebble, offering Let's Encrypt's profiles and one of two minutes: a name in an
# order picks one (pebble picks at random for an order that names none).
PROFILES = {"classic": 90 * 86400, "tlsserver": 45 * 86400, "shortlived": 160 * 3600, "minutes": 120}
PROFILE_CA_PORTS = pebble.Ports(acme=14300, management=15300)


@dataclass
class ProfileCa:
    pebble: pebble.Pebble
    trusted: Path  # both pebbles' issuing roots, for the endpoint check

    def stack(self, server: servers.Server, profile: str) -> dict:
        return {
            "acmeServer": f"https://{server.gateway}:{PROFILE_CA_PORTS.acme}/dir",
            "acmeProfile": profile,
            "checkCaBundle": str(self.trusted),
        }


@pytest.fixture(scope="module")
def profile_ca(machine, tmp_path_factory):
    work = tmp_path_factory.mktemp("profile-ca")
    for name in ("pebble.pem", "pebble.key"):  # the same API certificate: the servers trust it
        shutil.copy(machine.pebble_api_ca.parent / name, work / name)
    processes: list[subprocess.Popen] = []
    try:
        started = pebble.start(
            work,
            processes,
            listen="0.0.0.0",
            api_addresses=("127.0.0.1", *(f"10.77.{number}.1" for number in SUITES.values())),
            default_ipv4="127.0.0.1",
            ports=PROFILE_CA_PORTS,
            profiles=PROFILES,
            dns=f"127.0.0.1:{pebble.Ports().dns}",  # the suite's DNS, which knows the servers' names
        )
        (work / "trusted.pem").write_bytes(machine.issuing_root.read_bytes() + started.issuing_root.read_bytes())
        yield ProfileCa(started, work / "trusted.pem")
    finally:
        for process in processes:
            terminate(process, timeout=10)


def lifetime(server: servers.Server, suite: str) -> int:
    """Seconds from notBefore to notAfter of the certificate the server holds."""
    dates = server.ssh(f"sudo openssl x509 -noout -startdate -enddate -in {HostLayout(domain(suite)).certificate}")
    start, end = (line.split("=", 1)[1] for line in dates.stdout.splitlines())
    parse = "%b %d %H:%M:%S %Y %Z"
    return int((datetime.strptime(end, parse) - datetime.strptime(start, parse)).total_seconds())


def test_each_acme_profile_issues_and_renews_on_debian_13_and_its_renewal_config_keeps_it(
    deployments, machine, profile_ca
):
    """Debian 13's certbot 4.0 asks for the profile and (its deb13u1 patch) keeps it at renewal."""
    server = deployments["trixie"].server
    layout = HostLayout(domain("trixie"))
    try:
        for profile in ("classic", "tlsserver", "shortlived"):
            runs = {
                run.name: run for run in up(deployments, "trixie", machine, **profile_ca.stack(server, profile)).steps
            }
            assert f"under the profile {profile}" in runs[n.CERTIFICATE].output, runs[n.CERTIFICATE].output
            assert f"preferred_profile = {profile}" in server.ssh(f"sudo cat {layout.renewal_conf}").stdout
            assert lifetime(server, "trixie") == PROFILES[profile] - 1  # pebble's notAfter is inclusive
            assert check_endpoint(
                dataclasses.replace(node_endpoint("trixie", machine), ca_bundle=str(profile_ca.trusted))
            )
            serial = served_serial(server, "trixie")
            force_renewal_through_the_timers_service(server)  # a renewal asks for the profile again
            assert serial_served_after(server, "trixie", serial) != serial
            assert lifetime(server, "trixie") == PROFILES[profile] - 1, profile
        assert up(deployments, "trixie", machine, **profile_ca.stack(server, "shortlived")).steps == []
    finally:
        up(deployments, "trixie", machine)  # back to the suite's CA, with no profile
    assert "preferred_profile" not in server.ssh(f"sudo cat {layout.renewal_conf}").stdout


def test_debian_12s_own_certbot_is_refused_a_profile_with_the_reason_and_the_node_keeps_serving(deployments, machine):
    server = deployments["bookworm"].server
    certificate = HostLayout(domain("bookworm")).certificate
    serial = server.ssh(f"sudo openssl x509 -noout -serial -in {certificate}").stdout
    try:
        with pytest.raises(StackFailed) as refused:
            up(deployments, "bookworm", machine, acmeProfile="shortlived", certbot="distro")
        message = refused.value.output
        assert f"command:remote:Command ({n.CERTIFICATE}):" in message and "Traceback" not in message
        assert (
            "acmeProfile shortlived needs a certbot that asks for the profile and keeps it at every renewal" in message
        )
        assert "this host's certbot is 2.1.0 (Debian 12 ships 2.1): set pactus-secure:certbot pypi" in message, message
        assert server.ssh(f"sudo openssl x509 -noout -serial -in {certificate}").stdout == serial
        assert check_endpoint(node_endpoint("bookworm", machine)).issuer.startswith("Pebble")
    finally:
        up(deployments, "bookworm", machine)


def test_a_two_minute_certificate_renews_through_certbots_timer_under_its_profile(deployments, machine, profile_ca):
    """certbot.service started as its timer starts it: with half of a short lifetime gone
    (certbot 4 renews a certificate of under 10 days with half of it left), it renews under
    the same profile, and Nginx serves the new certificate with no `pulumi up`."""
    server = deployments["trixie"].server
    layout = HostLayout(domain("trixie"))
    try:
        up(deployments, "trixie", machine, **profile_ca.stack(server, "minutes"))
        served = served_serial(server, "trixie")
        time.sleep(PROFILES["minutes"] / 2 + 5)
        server.ssh("sudo systemctl start certbot.service", timeout=180)
        assert serial_served_after(server, "trixie", served) != served
        assert "preferred_profile = minutes" in server.ssh(f"sudo cat {layout.renewal_conf}").stdout
        assert lifetime(server, "trixie") == PROFILES["minutes"] - 1
    finally:
        up(deployments, "trixie", machine)


def test_fleet_status_turns_a_two_minute_certificate_whose_renewal_stopped_warning_then_critical(
    deployments, machine, profile_ca, project
):
    """certbot's timer stopped, so nothing renews: past its renewal point (half of its two
    minutes) status says WARNING, near and past its end CRITICAL, and never goes back."""
    server = deployments["trixie"].server
    server.ssh("sudo systemctl stop certbot.timer")
    try:
        up(deployments, "trixie", machine, **profile_ca.stack(server, "minutes"))
        states, deadline = [], time.monotonic() + PROFILES["minutes"] + 30
        while time.monotonic() < deadline and states[-1:] != ["CRITICAL"]:
            states.append(project.fleet_status("trixie", "--renewal-grace", "0s")[1]["state"])
            time.sleep(2)
    finally:
        server.ssh("sudo systemctl start certbot.timer")
        up(deployments, "trixie", machine)
    changes = [state for index, state in enumerate(states) if index == 0 or states[index - 1] != state]
    assert changes == ["OK", "WARNING", "CRITICAL"], states


def serial_served_after(server: servers.Server, suite: str | None, previous: str, timeout: float = 15) -> str:
    """The serial Nginx serves once it is no longer `previous`: the deploy hook's reload is
    asynchronous (Nginx's new workers take over a moment after `systemctl reload` returns)."""
    deadline = time.monotonic() + timeout
    while (serial := served_serial(server, suite)) == previous and time.monotonic() < deadline:
        time.sleep(0.5)
    return serial


def served_serial(server: servers.Server, suite: str | None) -> str:
    """The serial Nginx serves for the suite's name; None: to a client that dials the address."""
    name = f"-servername {domain(suite)}" if suite else "-noservername"
    return subprocess.run(
        f"openssl s_client -connect {server.address}:443 {name} </dev/null 2>/dev/null | openssl x509 -noout -serial",
        shell=True,
        capture_output=True,
        text=True,
    ).stdout


PYPI_TIMER = "pactus-secure-certbot-renew"


@dataclass
class IpNode:
    """Debian 12's server as a node without a domain: its certificate for its address, under
    shortlived, from the first `up` in that mode (whose preview and steps are kept)."""

    server: servers.Server
    address: str
    layout: HostLayout
    preview: Result
    made: str  # what the certificate step printed


IP_NODE_UP = {"domain": None, "ipAddressCertificate": "true"}


@pytest.fixture(scope="class")
def ip_node(deployments, machine, profile_ca):
    """Debian 12's certbot 2.1 issues for no IP address: `auto` installs certbot 5.8 from PyPI
    in its venv, with its own timer, in place of the distribution's package. Put back after:
    the distribution's certbot, the address's certificate deleted (as every certificate, it
    stays on destroy, and Debian 12's certbot cannot renew it), the node on its domain."""
    server = deployments["bookworm"].server
    config = {**IP_NODE_UP, **profile_ca.stack(server, "shortlived")}
    try:
        deployments["bookworm"].stack.configure(stack("bookworm", server, machine, **config))
        preview = deployments["bookworm"].stack.preview()
        made = up(deployments, "bookworm", machine, **config).step(n.CERTIFICATE).output
        yield IpNode(server, server.address, HostLayout(server.address), preview, made)
    finally:
        up(deployments, "bookworm", machine, certbot="distro")
        server.ssh(f"sudo certbot delete --non-interactive --cert-name {server.address}", check=False)
        up(deployments, "bookworm", machine)
    assert check_endpoint(node_endpoint("bookworm", machine)).issuer.startswith("Pebble")


class TestAnIpAddressNode:
    """One behaviour each, in order, of the node `ip_node` makes (its teardown follows the last)."""

    def test_an_ip_address_node_previews_certbot_from_pypi_where_the_distributions_is_too_old(self, ip_node):
        assert any("else 5.8.0 from PyPI in /opt/certbot" in line for line in ip_node.preview.diagnostics)

    def test_auto_installs_certbot_from_pypi_in_its_venv_in_place_of_the_package(self, ip_node):
        made, server = ip_node.made, ip_node.server
        assert "from PyPI into /opt/pactus-secure-certbot/5.8.0-" in made, made
        assert "(hash-pinned wheels)" in made, made
        assert "an IP-address certificate needs certbot 5.4 or later; this host's certbot is 2.1.0" in made, made
        assert "removed the distribution's certbot package" in made, made
        assert server.ssh("readlink /opt/certbot").stdout.startswith("/opt/pactus-secure-certbot/5.8.0-")
        assert server.ssh("dpkg-query -W -f='${db:Status-Status}' certbot", check=False).stdout != "installed"
        assert server.ssh("certbot --version").stdout.strip() == "certbot 5.8.0"  # /usr/local/bin: the venv's

    def test_certbot_from_pypi_renews_from_a_timer_of_its_own(self, ip_node):
        server = ip_node.server
        assert server.ssh(f"systemctl is-active {PYPI_TIMER}.timer").stdout.strip() == "active"
        assert "ExecStart=/opt/certbot/bin/certbot -q renew" in server.ssh(f"systemctl cat {PYPI_TIMER}.service").stdout

    def test_the_certificate_is_for_the_address_under_shortlived(self, ip_node):
        address, server = ip_node.address, ip_node.server
        assert f"HTTP-01 self-check passed: {address} serves this host's webroot on port 80" in ip_node.made
        assert f"certificate for {address} issued by" in ip_node.made
        assert "under the profile shortlived" in ip_node.made
        assert "preferred_profile = shortlived" in server.ssh(f"sudo cat {ip_node.layout.renewal_conf}").stdout
        names = server.ssh(f"sudo openssl x509 -noout -ext subjectAltName -in {ip_node.layout.certificate}").stdout
        assert f"IP Address:{address}" in names and "DNS:" not in names, names

    def test_a_grpc_client_dialling_the_address_verifies_its_certificate(self, ip_node, profile_ca):
        credentials = grpc.ssl_channel_credentials(profile_ca.trusted.read_bytes())
        with grpc.secure_channel(
            f"{ip_node.address}:443", credentials
        ) as channel:  # verifies the IP in the certificate
            info = blockchain_pb2_grpc.BlockchainStub(channel).GetBlockchainInfo(
                blockchain_pb2.GetBlockchainInfoRequest(), timeout=10
            )
        assert info.total_validators > 0

    def test_a_second_up_of_the_ip_address_node_runs_nothing(self, ip_node, deployments, machine, profile_ca):
        config = {**IP_NODE_UP, **profile_ca.stack(ip_node.server, "shortlived")}
        assert up(deployments, "bookworm", machine, **config).steps == []

    def test_ari_renews_at_once_when_pebble_moves_the_renewal_window_into_the_past(self, ip_node, profile_ca):
        """2 minutes into 160 hours the certificate is far from due: only ARI makes the timer's run renew it."""
        server = ip_node.server
        served = served_serial(server, None)
        tell_pebble_renew_now(profile_ca, server.ssh(f"sudo cat {ip_node.layout.certificate}").stdout)
        server.ssh(f"sudo systemctl start {PYPI_TIMER}.service", timeout=180)
        assert serial_served_after(server, None, served) != served
        assert "preferred_profile = shortlived" in server.ssh(f"sudo cat {ip_node.layout.renewal_conf}").stdout

    def test_certbot_distro_switches_back_to_the_package_and_its_timer(self, ip_node, deployments, machine):
        """The last of the IP-address node's tests: it leaves the distribution's certbot."""
        server = ip_node.server
        back = up(deployments, "bookworm", machine, certbot="distro")
        made = back.step(n.CERTIFICATE).output
        assert "removed certbot from PyPI (/opt/certbot)" in made and f"removed {PYPI_TIMER}.timer" in made, made
        assert "installed: certbot" in back.step(n.PACKAGES).output
        leftovers = "test -e /opt/certbot || test -L /opt/certbot || test -e /opt/pactus-secure-certbot"
        assert server.ssh(f"{leftovers} || test -e /usr/local/bin/certbot", check=False).returncode != 0
        assert server.ssh(f"test -e /etc/systemd/system/{PYPI_TIMER}.timer", check=False).returncode != 0
        assert server.ssh("systemctl is-active certbot.timer").stdout.strip() == "active"
        assert server.ssh("certbot --version").stdout.strip() == "certbot 2.1.0"


def test_another_certificate_that_renews_through_nginx_keeps_renewing_across_the_switch_and_back(
    deployments, machine, profile_ca
):
    """A second site on the host, its certificate renewed by certbot's nginx plugin. The switch to
    certbot from PyPI removes the distribution's certbot and the plugin with it: the venv's
    own nginx plugin renews it then; the switch back installs the distribution's plugin again."""
    server = deployments["bookworm"].server
    other, acme = "shop.bookworm.test", pebble.Ports().directory(server.gateway)
    as_root = f"sudo REQUESTS_CA_BUNDLE={PEBBLE_CA_ON_SERVER}"
    dry_run = (  # a dry run goes to the staging server unless it is named
        f"{as_root} certbot renew --dry-run --cert-name {other} --server {acme} --non-interactive "
        "--no-random-sleep-on-renew"
    )
    challtestsrv("/add-a", {"host": other, "addresses": [server.address]})
    server.ssh("sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-certbot-nginx", timeout=600)
    server.ssh(
        f"echo 'server {{ listen 80; server_name {other}; return 404; }}' | sudo tee /etc/nginx/conf.d/shop.conf "
        "&& sudo systemctl reload nginx"
    )
    server.ssh(
        f"{as_root} certbot certonly --nginx -d {other} --server {acme} --agree-tos -m ops@example.com "
        "--non-interactive --no-eff-email",
        timeout=300,
    )
    ip_node = {"domain": None, "ipAddressCertificate": "true", **profile_ca.stack(server, "shortlived")}
    try:
        made = up(deployments, "bookworm", machine, **ip_node).step(n.CERTIFICATE).output
        assert "removed the distribution's certbot package and python3-certbot-nginx, which need it" in made, made
        assert server.ssh("certbot --version").stdout.strip() == "certbot 5.8.0"
        renewed = server.ssh(dry_run, timeout=300)
        assert "all simulated renewals succeeded" in renewed.stdout + renewed.stderr, renewed.stdout + renewed.stderr

        back = up(deployments, "bookworm", machine, certbot="distro")
        assert "back with the packages that went with it: python3-certbot-nginx" in back.step(n.PACKAGES).output
        assert server.ssh("certbot --version").stdout.strip() == "certbot 2.1.0"
        renewed = server.ssh(dry_run, timeout=300)
        assert "all simulated renewals succeeded" in renewed.stdout + renewed.stderr, renewed.stdout + renewed.stderr
    finally:
        server.ssh(
            f"sudo certbot delete --cert-name {other} --non-interactive; sudo rm -f /etc/nginx/conf.d/shop.conf; "
            "sudo systemctl reload nginx",
            check=False,
        )
        up(deployments, "bookworm", machine)  # as the suite's setup left it


def tell_pebble_renew_now(profile_ca: ProfileCa, certificate: str) -> None:
    """pebble's management API answers ARI for this certificate with a window an hour past."""
    past = datetime.now(UTC) - timedelta(hours=1)
    window = {"start": past.isoformat(), "end": (past + timedelta(minutes=1)).isoformat()}
    request = urllib.request.Request(
        f"https://127.0.0.1:{PROFILE_CA_PORTS.management}/set-renewal-info/",
        data=json.dumps({"Certificate": certificate, "ARIResponse": json.dumps({"suggestedWindow": window})}).encode(),
        method="POST",
    )
    context = ssl.create_default_context(cafile=str(profile_ca.pebble.api_ca))
    urllib.request.urlopen(request, context=context).close()
