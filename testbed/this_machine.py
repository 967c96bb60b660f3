"""This machine as a node's server, for the real-host suites and the benchmarks: real sshd,
pebble (a real ACME server) with its DNS, and a real Pactus node (pactus-daemon, testnet).
Needs root: the program's scripts install packages and write /etc/nginx and
/etc/letsencrypt, as they would on a server.

Everything started here is stopped afterwards, and what it added to /etc, /var/lib and /run
is removed, even what `pulumi destroy` keeps on a host (the renewal schedule, the program's
folders); Nginx, cron and certbot stay installed, as `pulumi destroy` leaves them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from render.host_layout import HOST_LOCK_DIR, RENEW_HOOK, RENEWAL_CRON, HostLayout
from settings.constants import PROGRAM_DIR
from testbed import pebble
from testbed.pactus_node import PactusNode
from testbed.pebble import wait_for_port
from testbed.processes import pid_alive, terminate
from testbed.stack import Project, Stack

FILES = Path(__file__).parent / "files"

DOMAIN = "node.test"
FAULTS_DOMAIN = "faults.test"  # tests/host/test_faults.py breaks things on this one
UNVALIDATED_DOMAIN = "refused.test"  # validated by no test before the one that makes validation fail
METRICS_DOMAIN = "metrics.test"  # tests/host/test_metrics.py's node, a second pactus-daemon
DOMAINS = (DOMAIN, FAULTS_DOMAIN, UNVALIDATED_DOMAIN, METRICS_DOMAIN)
# What the steps leave on a host after `destroy`: the renewal schedule that keeps the certificate
# renewing, the program's folder (the ACME webroot) and the host lock's.
KEPT_BY_DESTROY = (RENEW_HOOK, RENEWAL_CRON, PROGRAM_DIR, HOST_LOCK_DIR)
ORIGIN = "https://wallet.example.com"
HOSTS_LINE = f"127.0.0.1 {' '.join(DOMAINS)}  # pactus-secure real-host suite\n"
PEBBLE_DIRECTORY = pebble.Ports().directory("127.0.0.1")
# This machine, as the real servers see it (test_servers.py's, then test_fleet.py's).
SERVER_GATEWAYS = ("10.77.12.1", "10.77.13.1", "10.77.41.1", "10.77.42.1", "10.77.43.1")
CHALLTESTSRV = pebble.Ports().dns_api("127.0.0.1")  # pebble's DNS


# The operator's own lines, which every `up` must keep.
HAND_EDITS_PREFIX = "# validator node.test: set up by hand, see the runbook\n\n"
HAND_EDITS_REWARD = (
    "reward_addresses = []",
    "reward_addresses = ['tpc1r6mgpwrzv62qz96m7hghmltx8dpn5dacnhzv67r']  # the cold wallet",
)
HAND_EDITS_LOGGER = ("colorful = true", "colorful = false  # plain logs for journald")


@dataclass
class Machine:
    ssh_port: int
    host_key: str  # sshd's public host key, as sshHostKey takes it
    client_key: str
    pebble_api_ca: Path  # trusted by certbot: pebble's own HTTPS API
    pebble_log: Path  # every request pebble answered
    issuing_root: Path  # trusted by clients: the root pebble signs certificates under
    pactus_dir: Path
    original_config: str
    node: PactusNode
    sshd_log: Path  # sshd's log: one "Accepted publickey" line per SSH session

    def ssh_sessions(self) -> int:
        """SSH sessions sshd has accepted so far: each remote command the provider runs opens one."""
        return self.sshd_log.read_text().count("Accepted publickey")


def this_host_as_the_node(machine: Machine, domain: str, pactus_dir: Path, **overrides) -> dict:
    """A stack config whose node is this machine: over the suite's sshd, certificates from pebble."""
    return {
        "domain": domain,
        "host": "127.0.0.1",
        "allowPrivateHost": "true",  # this machine, on loopback
        "sshPort": str(machine.ssh_port),
        "sshHostKey": machine.host_key,
        "acmeEmail": "ops@example.com",
        "manageDns": "false",
        "acmeServer": PEBBLE_DIRECTORY,
        "acmeCaBundle": str(machine.pebble_api_ca),
        "checkCaBundle": str(machine.issuing_root),
        "pactusDir": str(pactus_dir),
        **overrides,
    }


def beside_the_running_node(machine: Machine, domain: str, pactus_dir: Path, **overrides) -> dict:
    """A node of its own directory (which no daemon reads), its APIs where the suite's running
    node answers them: an `up` needs no restart of the node to pass its endpoint check."""
    listens = machine.node.loopback_listens()
    return this_host_as_the_node(
        machine,
        domain,
        pactus_dir,
        **{"grpc": {"listen": listens["grpc"]}, "jsonrpc": {"enable": True, "listen": listens["jsonrpc"]}, **overrides},
    )


def challtestsrv(path: str, body: dict) -> None:
    """pebble's DNS, told what to answer (its management API)."""
    pebble.tell_dns(CHALLTESTSRV, path, body)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def trusted(machine: Machine) -> ssl.SSLContext:
    """Clients trust pebble's issuing root, as they trust Let's Encrypt's."""
    return ssl.create_default_context(cafile=str(machine.issuing_root))


def forget_certificate(domain: str) -> None:
    layout = HostLayout(domain)
    for path in (os.path.dirname(layout.certificate), f"/etc/letsencrypt/archive/{domain}", layout.renewal_conf):
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.unlink(path)


def forget_test_certificates() -> None:
    """Pebble keeps accounts in memory only: a new pebble knows no account certbot saved for an earlier one."""
    for domain in DOMAINS:
        forget_certificate(domain)
    shutil.rmtree(f"/etc/letsencrypt/accounts/127.0.0.1:{pebble.Ports().acme}", ignore_errors=True)


def remove_test_sites() -> None:
    for domain in DOMAINS:
        layout = HostLayout(domain)
        for path in (layout.http_site, layout.tls_site, layout.htpasswd, layout.jsonrpc_guard, layout.access_log):
            Path(path).unlink(missing_ok=True)


def node_stack(
    project: Project,
    name: str,
    config: dict,
    machine: Machine,
    *,
    basic_auth: str | None = None,
    key: str | None = None,
) -> Stack:
    """A stack of the project with this config, the SSH key (and credential) set as secrets."""
    secrets = {"sshPrivateKey": key or machine.client_key}
    if basic_auth is not None:
        secrets["basicAuth"] = basic_auth
    return project.stack(name, config, secrets)


@contextmanager
def this_machine_as_a_node(work: Path) -> Iterator[Machine]:
    """Starts what a node's server and the world around it need, and takes it all down again."""
    for tool in ("sshd", "ssh", "ssh-keygen", "openssl"):  # pebble comes from tools/build
        assert shutil.which(tool) or os.path.exists(f"/usr/sbin/{tool}"), f"{tool} is missing: .ci/run installs it"
    processes: list[subprocess.Popen] = []
    nginx_was_running, cron_was_running = pid_alive("/run/nginx.pid"), pid_alive("/run/crond.pid")
    hosts_before = Path("/etc/hosts").read_text()
    remove_test_sites()
    forget_test_certificates()
    try:
        with given_back(KEPT_BY_DESTROY):
            machine = _start(work, processes)
            yield machine
    finally:
        for process in reversed(processes):
            terminate(process, timeout=10)
        if "machine" in locals():
            machine.node.stop()
        if not nginx_was_running and pid_alive("/run/nginx.pid"):
            subprocess.run(["nginx", "-s", "quit"], check=False)
        if not cron_was_running and pid_alive("/run/crond.pid"):
            os.kill(int(Path("/run/crond.pid").read_text()), signal.SIGTERM)
        Path("/etc/hosts").write_text(hosts_before)
        remove_test_sites()
        forget_test_certificates()


@contextmanager
def given_back(paths: tuple[str, ...]) -> Iterator[None]:
    """Each file as it was before, its text and mode put back; each file or folder that was not
    there removed (a folder that was is left as it is)."""
    before = {Path(path): Path(path).exists() for path in paths}
    kept = {path: (path.read_bytes(), path.stat().st_mode) for path, there in before.items() if path.is_file()}
    try:
        yield
    finally:
        for path, there in before.items():
            if path in kept:
                path.write_bytes(kept[path][0])
                path.chmod(kept[path][1])
            elif not there and path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif not there:
                path.unlink(missing_ok=True)


def _start(work: Path, processes: list[subprocess.Popen]) -> Machine:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "host_key")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "client_key")], check=True)
    (work / "authorized_keys").write_text((work / "client_key.pub").read_text())
    ssh_port = free_port()
    (work / "sshd_config").write_text((FILES / "sshd_config").read_text().format(port=ssh_port, work=work))
    os.makedirs("/run/sshd", exist_ok=True)
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    processes.append(
        subprocess.Popen(
            [sshd, "-D", "-e", "-f", str(work / "sshd_config")],
            stdout=(work / "sshd.log").open("w"),
            stderr=subprocess.STDOUT,
            text=True,
        )
    )
    wait_for_port(ssh_port, processes[-1], "sshd")

    # pebble, with pebble-challtestsrv as its DNS: node.test -> 127.0.0.1, no AAAA. On every
    # address: the real servers of test_servers.py reach it at their gateway.
    acme = pebble.start(
        work, processes, listen="0.0.0.0", api_addresses=("127.0.0.1", *SERVER_GATEWAYS), default_ipv4="127.0.0.1"
    )

    with open("/etc/hosts", "a") as hosts:
        hosts.write(HOSTS_LINE)

    # A validator as `pactus-daemon init --testnet` leaves it (its APIs on every address),
    # then edited by hand.
    pactus_dir = work / "pactus"
    node = PactusNode(pactus_dir, log=work / "pactus-daemon.log")
    original = HAND_EDITS_PREFIX + node.init().replace(*HAND_EDITS_REWARD).replace(*HAND_EDITS_LOGGER)
    (pactus_dir / "config.toml").write_text(original)
    node.start()
    return Machine(
        ssh_port=ssh_port,
        host_key=(work / "host_key.pub").read_text().strip(),
        client_key=(work / "client_key").read_text(),
        pebble_api_ca=acme.api_ca,
        pebble_log=acme.log,
        issuing_root=acme.issuing_root,
        pactus_dir=pactus_dir,
        original_config=original,
        node=node,
        sshd_log=work / "sshd.log",
    )


LOCAL_CAS = Path("/usr/local/share/ca-certificates")


def network_trust() -> dict[str, str]:
    """The CAs this machine adds to its trust store (an egress proxy's, here), as files for a
    server root: a server on this network must trust them to reach PyPI over TLS, as this
    machine's pip does (its `cert`). update-ca-certificates on the server takes them in."""
    return {str(path): path.read_text() for path in sorted(LOCAL_CAS.glob("*.crt"))}
