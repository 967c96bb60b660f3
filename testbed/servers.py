"""Real Debian servers for the suite: a debootstrapped root booted by systemd-nspawn with
systemd as PID 1, in its own network namespace at 10.77.<n>.2 (this machine is .1 and
routes it to Debian's mirror), sshd on port 22, a `deploy` user with passwordless sudo,
and a `pactus-daemon` (testnet, or one of a localnet chain: testbed.localnet) run by
`pactus.service` as the `pactus` user, who owns /home/pactus/pactus. Roots are cached per
suite and package list, in a folder of root's alone (their setuid programs must not be run
by other users); each run boots a fresh copy, so runs never see each other's state.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from testbed.pactus_node import MNEMONIC, WALLET_PASSWORD
from testbed.private import NotPrivate, open_private, private_folder
from testbed.processes import terminate
from testbed.tools import tool

CACHE = Path("/var/cache/pactus-secure-roots")
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("systemd", "systemd-sysv", "dbus", "openssh-server", "ca-certificates", "sudo", "iproute2", "curl")
PACTUS_DIR = "/home/pactus/pactus"
TESTNET_NODE = f"--testnet --val-num 1 --restore '{MNEMONIC}'"  # `pactus-daemon init`'s flags: at height 0, no peers
SUBNET = "10.77.0.0/16"

# The node's unit on every server, as an operator would write it.
PACTUS_UNIT = (
    (Path(__file__).parent / "files" / "pactus.service")
    .read_text()
    .format(pactus_dir=PACTUS_DIR, wallet_password=WALLET_PASSWORD)
)


@dataclass
class Server:
    name: str  # the machine's name, and its host-side interface ve-<name>
    suite: str  # bookworm (Debian 12) or trixie (Debian 13)
    number: int  # its subnet: 10.77.<number>.0/24
    root: Path
    key: Path  # the deploy user's private key
    process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"10.77.{self.number}.2"

    @property
    def gateway(self) -> str:
        return f"10.77.{self.number}.1"

    def ssh(self, command: str, *, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [
                "ssh",
                "-i",
                str(self.key),
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
                "-o",
                "ConnectTimeout=5",
                f"deploy@{self.address}",
                command,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{self.name}: {command} exited {result.returncode}: {result.stdout}{result.stderr}")
        return result

    def boot(self) -> None:
        self.start()
        self.wait_booted()

    def start(self) -> None:
        """systemd-nspawn started: `process` is there to stop, whether or not it boots."""
        self.process = subprocess.Popen(
            [
                "systemd-nspawn",
                "--register=no",
                "--keep-unit",
                "-q",
                "-D",
                str(self.root),
                "-M",
                self.name,
                "--network-veth",
                "-b",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_usual_umask,
        )  # it outlives the demo's `up`, which stops it only on `down`

    def wait_booted(self) -> None:
        interface = f"ve-{self.name}"[:15]
        _wait(
            lambda: subprocess.run(["ip", "link", "show", interface], capture_output=True).returncode == 0,
            f"{interface} to appear",
        )
        subprocess.run(["ip", "addr", "add", f"{self.gateway}/24", "dev", interface], check=True)
        subprocess.run(["ip", "link", "set", interface, "up"], check=True)
        _wait(lambda: _port_open(self.address, 22), f"sshd on {self.name}", timeout=90)
        answers: list[str] = []

        def booted() -> bool:
            answer = self.ssh("systemctl is-system-running --wait", check=False)
            answers.append(f"exit {answer.returncode}: {answer.stdout.strip()} {answer.stderr.strip()}")
            return answer.stdout.strip() in ("running", "degraded")

        try:
            _wait(booted, f"{self.name} to finish booting", timeout=240)
        except RuntimeError as timeout:
            raise RuntimeError(
                f"{timeout}; systemctl is-system-running answered {answers[-3:]}; "
                f"{self.inside('systemctl', 'list-jobs', '--no-pager')}"
            ) from None

    def inside(self, *command: str) -> str:
        """A command run in the booted server's namespaces without SSH (for what to say when SSH fails)."""
        init = _descendant_named(self.process.pid, "systemd")
        if init is None:
            return f"no systemd runs under systemd-nspawn {self.process.pid}"
        result = subprocess.run(
            ["nsenter", "-t", str(init), "-m", "-u", "-i", "-n", "-p", *command],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return f"{' '.join(command)}: {result.stdout}{result.stderr}"

    def stop(self) -> None:
        terminate(self.process, timeout=60)  # on SIGTERM nspawn shuts the container down cleanly
        self.process = None


def prepare(
    name: str,
    suite: str,
    number: int,
    work: Path,
    ssh_public_key: str,
    files: dict[str, str],
    *,
    node_init: str = TESTNET_NODE,
    wait_for_root: bool = True,
) -> Server:
    """A fresh copy of the cached root, set up as the docs set a node up; `files`: more files to put in it;
    `node_init`: the node's flags for `pactus-daemon init`. Without `wait_for_root`, a root another run
    is building raises RootBusy."""
    root = work / name
    if os.path.lexists(root):
        raise RuntimeError(f"{root} exists: a server is prepared into a new folder")
    subprocess.run(["cp", "-a", "--reflink=auto", str(_cached_root(suite, wait_for_root)), str(root)], check=True)
    network = f"[Match]\nName=host0\n\n[Network]\nAddress=10.77.{number}.2/24\nGateway=10.77.{number}.1\n"
    for path, text in {
        "/etc/systemd/network/10-host0.network": network,  # before systemd's 80-container-host0 (DHCP)
        "/etc/systemd/system/pactus.service": PACTUS_UNIT,
        "/etc/sudoers.d/deploy": "deploy ALL=(ALL) NOPASSWD: ALL\n",
        **files,
    }.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(0o644)  # read by the server's services, whatever this process's umask
    (root / "etc/sudoers.d/deploy").chmod(0o440)
    shutil.copy(tool("pactus-daemon"), root / "usr/local/bin/pactus-daemon")
    setup = f"""set -e
useradd -m -s /bin/bash deploy
install -d -m 700 -o deploy -g deploy /home/deploy/.ssh
printf '%s\\n' '{ssh_public_key}' > /home/deploy/.ssh/authorized_keys
chown deploy:deploy /home/deploy/.ssh/authorized_keys
useradd -m -s /usr/sbin/nologin pactus
runuser -u pactus -- /usr/local/bin/pactus-daemon init -w {PACTUS_DIR} -p {WALLET_PASSWORD} {node_init} >/dev/null
test -f {PACTUS_DIR}/config.toml
systemctl enable systemd-networkd pactus.service >/dev/null 2>&1
"""
    subprocess.run(
        ["systemd-nspawn", "--register=no", "--keep-unit", "-q", "-D", str(root), "bash", "-c", setup],
        check=True,
        capture_output=True,
        text=True,
        preexec_fn=_usual_umask,
    )
    return Server(name=name, suite=suite, number=number, root=root, key=work / "deploy_key")


IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


def masquerade(subnet: str) -> list[str]:
    return ["POSTROUTING", "-s", subnet, "!", "-d", subnet, "-j", "MASQUERADE"]


def forward_chain(subnet: str) -> str:
    """The FORWARD chain of one subnet's rules, e.g. pst-10-77-30-0-24."""
    return "pst-" + subnet.replace(".", "-").replace("/", "-")


def route_to_the_mirror(subnet: str = SUBNET, forwarded_before: str | None = None) -> str:
    """Containers reach Debian's mirror through this machine (their packages come from it).
    Forwarding is opened for `subnet` alone: the subnet's own chain, first in FORWARD (a DROP
    policy, as Docker or ufw set, does not stop it), accepts its traffic out and the answers
    back; where this machine forwarded nothing before, it drops all else, so turning on
    ip_forward routes between no other interfaces. Returns ip_forward as it was, for stop_routing;
    `forwarded_before`: as it was before an earlier run that is still up (the demo's first `up`)."""
    forwarding = IP_FORWARD.read_text() if forwarded_before is None else forwarded_before
    chain = forward_chain(subnet)
    stop_routing(IP_FORWARD.read_text(), subnet)  # an earlier run's rules, if it was killed
    rules = [
        ["-N", chain],
        ["-A", chain, "-s", subnet, "-j", "ACCEPT"],
        ["-A", chain, "-d", subnet, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"],
        ["-A", chain, "-j", "DROP" if forwarding.strip() == "0" else "RETURN"],
        ["-I", "FORWARD", "1", "-j", chain],
        ["-t", "nat", "-A", *masquerade(subnet)],
    ]
    for rule in rules:
        subprocess.run(["iptables", *rule], check=True, capture_output=True)
    IP_FORWARD.write_text("1\n")
    return forwarding


def stop_routing(forwarding: str, subnet: str = SUBNET) -> None:
    """Takes back what route_to_the_mirror added; each part is skipped when it is not there."""
    chain = forward_chain(subnet)
    IP_FORWARD.write_text(forwarding)
    for rule in (
        ["-t", "nat", "-D", *masquerade(subnet)],
        ["-D", "FORWARD", "-j", chain],
        ["-F", chain],
        ["-X", chain],
    ):
        subprocess.run(["iptables", *rule], capture_output=True)


class RootBusy(RuntimeError):
    """Another run is building the server root (debootstrap): its lock is held."""


def _cached_root(suite: str, wait: bool) -> Path:
    key = hashlib.sha256(" ".join((suite, MIRROR, *PACKAGES)).encode()).hexdigest()[:12]
    root = CACHE / f"{suite}-{key}"
    private_folder(CACHE)
    if root.is_symlink():  # copied, it would lead prepare() to write this machine's own files
        raise NotPrivate(f"{root} is a link, not a server root: remove it")
    if root.is_dir():  # renamed into place only when whole
        return root
    with open_private(CACHE / f"{suite}-{key}.lock") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise RootBusy(
                f"the Debian {suite} server root in {CACHE} is being built by another run (debootstrap, "
                "about a minute): wait for it to finish, then run again"
            ) from None
        _build_root(root, suite)
    return root


def _build_root(root: Path, suite: str) -> None:
    if not root.exists():
        # Built aside and renamed when whole: an interrupted debootstrap never passes for a root.
        partial = root.with_name(root.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", suite, str(partial), MIRROR],
            check=True,
            capture_output=True,
        )
        partial.rename(root)


def _usual_umask() -> None:
    """A server's own files are made as Debian makes them, whatever umask this process keeps."""
    os.umask(0o022)


def _descendant_named(pid: int, name: str) -> int | None:
    """The first process under `pid` whose command is `name`, children before grandchildren."""
    queue = [pid]
    while queue:
        parent = queue.pop(0)
        try:
            children = [int(child) for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]
            for child in children:
                if Path(f"/proc/{child}/comm").read_text().strip() == name:
                    return child
        except FileNotFoundError:  # it exited meanwhile
            continue
        queue.extend(children)
    return None


def _port_open(address: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((address, port)) == 0


def _wait(condition, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.5)
