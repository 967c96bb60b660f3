"""`./demo up|preview|down`: the program, unchanged, deploying a secured node onto a
throwaway local server. Real: a Debian 13 server booted with systemd (systemd-nspawn) at
its own address, sshd, sudo, Nginx, certbot, a testnet pactus-daemon as `pactus.service`,
the Pulumi CLI and engine with pulumi-command's provider, the ACME protocol. Local: the CA
is pebble, and the demo name resolves only on this machine (/etc/hosts, pebble's DNS).

Everything it adds to this machine is listed in its state folder and taken back by `down`.
That folder is root's alone (0700, its files 0600): it holds the server's root, the deploy
key, and the stack whose secrets a passphrase made for this demo encrypts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from testbed import pebble, servers
from testbed.private import NotPrivate, open_private, private_folder
from testbed.processes import pid_alive, remember
from testbed.stack import Project

os.environ.setdefault("GRPC_DNS_RESOLVER", "native")  # the demo name resolves through /etc/hosts
STATE = Path(os.environ.get("PACTUS_SECURE_DEMO_STATE", "/var/lib/pactus-secure-demo"))
MARK = ".pactus-secure-demo"  # in STATE, which `down` removes only with it there
HOSTS = Path("/etc/hosts")
NAME, SUITE, NUMBER = "pst-demo", "trixie", 30  # Debian 13 at 10.77.30.2; this machine is 10.77.30.1
SUBNET = f"10.77.{NUMBER}.0/24"
DOMAIN = "node.pactus-demo.test"
STACK = "demo"
PORTS = pebble.Ports(acme=14100, management=15100, dns=8153, dns_management=8155)
HOSTS_MARK = "# pactus-secure demo"
PEBBLE_CA_ON_SERVER = "/etc/pactus-secure-demo/pebble.pem"
ADDED_ORIGIN = "https://wallet.example.com"


class DemoError(RuntimeError):
    """What went wrong, and what to do."""


def say(message: str) -> None:
    print(f"demo: {message}", flush=True)


def server() -> servers.Server:
    return servers.Server(name=NAME, suite=SUITE, number=NUMBER, root=STATE / NAME, key=STATE / "deploy_key")


def up() -> None:
    preflight()
    _state_folder()
    servers.route_to_the_mirror(SUBNET, forwarded_before=_remember_forwarding())
    node = _boot_server()
    acme = _start_pebble(node)
    _hosts_entry(node.address)
    stack = _stack(node, acme)
    say(f"pulumi up of stack {STACK!r} (its own output follows)")
    _cli(stack.project, "up", "--yes", "--stack", STACK)
    _call_the_node(node, acme)


def preview() -> None:
    node, acme = _running()
    stack = _stack(node, acme, origins=[ADDED_ORIGIN])
    say(f"pulumi preview with jsonrpc.origins {ADDED_ORIGIN!r} added (not applied)")
    try:
        _cli(stack.project, "preview", "--diff", "--stack", STACK)
    finally:
        stack.configure(_config(node, acme))


def down() -> None:
    """Takes back everything `up` did, also after an interrupted one; each part is skipped
    when it is not there."""
    if STATE.exists() and not (STATE / MARK).is_file():
        raise DemoError(
            f"{STATE} holds no {MARK}: it is not a demo's folder, and is left as it is (an earlier "
            "version's demo made none: remove the folder yourself once its server is stopped)"
        )
    project_dir = STATE / "pulumi" / "project"
    if pid_alive(STATE / "server.pid") and (project_dir / f"Pulumi.{STACK}.yaml").exists():
        say("pulumi destroy")
        try:
            _cli(_project(), "destroy", "--yes", "--stack", STACK)
        except DemoError as failed:
            say(f"{failed}; removing the server anyway")
    for name in ("server", "pebble", "challtestsrv"):
        if _stop(STATE / f"{name}.pid"):
            say(f"stopped {name}")
    subprocess.run(["ip", "link", "del", f"ve-{NAME}"[:15]], capture_output=True)
    _remove_hosts_entry()
    forwarding = STATE / "ip_forward.before"
    servers.stop_routing(forwarding.read_text() if forwarding.exists() else servers.IP_FORWARD.read_text(), SUBNET)
    if STATE.exists():
        shutil.rmtree(STATE)
        say(f"removed {STATE} (the server's root, the stack and its state)")
    say("down: nothing of the demo is left on this machine")


def preflight() -> None:
    if os.geteuid() != 0:
        raise DemoError(
            "run as root: it boots a local server with systemd-nspawn and adds an address, a NAT rule "
            "and an /etc/hosts line to this machine (`sudo ./demo up`; `./demo down` takes them back)"
        )
    for command, package in (
        ("systemd-nspawn", "systemd-container"),
        ("debootstrap", "debootstrap"),
        ("iptables", "iptables"),
    ):
        if shutil.which(command) is None:
            raise DemoError(f"{command} is missing: `apt-get install {package}`")
    if not pid_alive(STATE / "pebble.pid"):
        for port in (PORTS.acme, PORTS.management, PORTS.dns, PORTS.dns_management):
            holder = _listener(port)
            if holder:
                raise DemoError(
                    f"port {port}, which the demo's ACME server needs on this machine, is taken by "
                    f"{holder}: stop it, or run `./demo down` if it is an earlier demo's"
                )


def _state_folder() -> None:
    """STATE, root's alone, marked as the demo's; refused if it is another's folder."""
    if STATE.exists() and not (STATE / MARK).is_file() and any(STATE.iterdir()):
        raise DemoError(f"{STATE} is not empty and holds no {MARK}: set PACTUS_SECURE_DEMO_STATE to a new folder")
    try:
        private_folder(STATE)
    except NotPrivate as problem:
        raise DemoError(f"{problem}: the demo keeps its deploy key and stack there; choose another folder") from None
    (STATE / MARK).touch(mode=0o600)


def _project(refresh: bool = False) -> Project:
    """The demo's Pulumi project, with a passphrase of its own, made at the first `up`."""
    passphrase = STATE / "passphrase"
    if not passphrase.exists():
        with open_private(passphrase) as made:
            made.write(secrets.token_urlsafe(32))
    return Project(STATE / "pulumi", refresh=refresh, passphrase=passphrase.read_text())


def _boot_server() -> servers.Server:
    node = server()
    if pid_alive(STATE / "server.pid") and node.ssh("true", check=False).returncode == 0:
        say(f"server {NAME} (Debian 13, {node.address}) is running: reused")
        return node
    if node.root.exists():
        shutil.rmtree(node.root)
    key = STATE / "deploy_key"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    api_ca = _pebble_api_certificate()
    say(
        f"preparing server {NAME}: Debian 13 with systemd, sshd, a `deploy` user with sudo, and a testnet "
        "pactus-daemon as pactus.service (the first run debootstraps the root: about a minute)"
    )
    try:
        servers.prepare(
            NAME,
            SUITE,
            NUMBER,
            STATE,
            (STATE / "deploy_key.pub").read_text().strip(),
            {
                "/etc/hostname": f"{NAME}\n",
                "/etc/hosts": f"127.0.0.1 localhost {NAME}\n{node.address} {DOMAIN}\n",
                PEBBLE_CA_ON_SERVER: api_ca.read_text(),
            },
            wait_for_root=False,
        )
    except servers.RootBusy as busy:
        raise DemoError(str(busy)) from None
    say(f"booting {NAME} at {node.address}")
    node.start()
    remember(STATE / "server.pid", node.process)  # before it is ready: a failed boot is stopped by `down`
    node.wait_booted()
    return node


def _pebble_api_certificate() -> Path:
    """pebble's own HTTPS certificate, made once: the server trusts it for as long as it lives."""
    work = STATE / "pebble"
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "pebble.pem").exists():
        pebble.api_certificate(work, (server().gateway, "127.0.0.1"))
    return work / "pebble.pem"


def _start_pebble(node: servers.Server) -> pebble.Pebble:
    work = STATE / "pebble"
    if pid_alive(STATE / "pebble.pid"):
        say("pebble (the ACME server) is running: reused")
        return pebble.running(work, api_addresses=(node.gateway,), ports=PORTS)
    say(f"starting pebble, the ACME server, at {node.gateway}:{PORTS.acme}, with its DNS answering {node.address}")
    processes: list[subprocess.Popen] = []
    try:
        return pebble.start(
            work,
            processes,
            listen=node.gateway,
            api_addresses=(node.gateway, "127.0.0.1"),
            default_ipv4=node.address,
            ports=PORTS,
        )
    finally:  # also when one did not get ready: `down` stops what runs
        for process in processes:
            remember(STATE / f"{Path(process.args[0]).name.removeprefix('pebble-')}.pid", process)


def _stack(node: servers.Server, acme: pebble.Pebble, origins: list[str] | None = None):
    project = _project(refresh=True)
    return project.stack(STACK, _config(node, acme, origins), {"sshPrivateKey": node.key.read_text()})


def _config(node: servers.Server, acme: pebble.Pebble, origins: list[str] | None = None) -> dict:
    """The stack a node operator writes, with this server's address and pebble as the CA."""
    return {
        "domain": DOMAIN,
        "host": node.address,
        "allowPrivateHost": "true",
        "sshUser": "deploy",
        "sshHostKey": (node.root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().strip(),
        "acmeEmail": "demo@example.com",
        "manageDns": "false",
        "acmeServer": acme.directory,
        "acmeCaBundle": PEBBLE_CA_ON_SERVER,
        "checkCaBundle": str(acme.issuing_root),
        "pactusDir": servers.PACTUS_DIR,
        "pactusService": "pactus.service",
        "jsonrpc": {"enable": True, **({"origins": origins} if origins else {})},
        "http": {"enable": True},
    }


def _running() -> tuple[servers.Server, pebble.Pebble]:
    node = server()
    if not (pid_alive(STATE / "server.pid") and pid_alive(STATE / "pebble.pid")):
        raise DemoError("the demo is not up: run `./demo up` first")
    return node, pebble.running(STATE / "pebble", api_addresses=(node.gateway,), ports=PORTS)


def _cli(project: Project, *args: str) -> None:
    """The real CLI, its output straight to the terminal. Ctrl-C reaches it too (one process
    group): it finishes the step in flight, saves the state and unlocks the stack, and this
    waits for that, where subprocess.run would kill it a quarter second in and leave the
    stack locked."""
    cli = subprocess.Popen(
        [project.pulumi, *args, "--non-interactive"], cwd=project.directory, env={**os.environ, **project.environment}
    )
    interrupted = False
    while True:
        try:
            returncode = cli.wait()
            break
        except KeyboardInterrupt:
            interrupted = True
    if interrupted:
        raise DemoError(
            f"interrupted: pulumi {args[0]} stopped after its current step and saved the stack; run it again"
        )
    if returncode != 0:
        raise DemoError(f"pulumi {args[0]} failed (its output is above)")


def _call_the_node(node: servers.Server, acme: pebble.Pebble) -> None:
    """One call per API through Nginx with Pactus's own clients, and how a user makes it."""
    import grpc
    import httpx
    from pactus_grpc import blockchain_pb2, blockchain_pb2_grpc
    from pactus_jsonrpc.client import PactusOpenRPCClient

    ca = str(acme.issuing_root)
    say(f"calling the node through Nginx at https://{DOMAIN}, trusting pebble's root {ca}")
    credentials = grpc.ssl_channel_credentials(acme.issuing_root.read_bytes())
    with grpc.secure_channel(f"{DOMAIN}:443", credentials) as channel:
        info = _retry(
            lambda: blockchain_pb2_grpc.BlockchainStub(channel).GetBlockchainInfo(
                blockchain_pb2.GetBlockchainInfoRequest(), timeout=10
            )
        )
    print(
        f"  gRPC      {DOMAIN}:443  Blockchain.GetBlockchainInfo: last block height {info.last_block_height}, "
        f"{info.total_validators} validators"
    )
    client = PactusOpenRPCClient({}, f"https://{DOMAIN}/jsonrpc", verify=httpx.create_ssl_context(verify=ca))
    answer = asyncio.run(client.pactus.blockchain.get_blockchain_info())
    # JSON-RPC answers in proto3's JSON, which leaves out a field at its default (a height of 0).
    print(
        f"  JSON-RPC  https://{DOMAIN}/jsonrpc  pactus.blockchain.get_blockchain_info: last block height "
        f"{answer.get('last_block_height', 0)}, {answer['total_validators']} validators"
    )
    http = httpx.get(f"https://{DOMAIN}/http/api/pactus/blockchain/get_blockchain_info", verify=ca, timeout=10)
    print(
        f"  HTTP-API  https://{DOMAIN}/http/api/pactus/blockchain/get_blockchain_info: last block height "
        f"{http.json().get('lastBlockHeight', 0)}, {http.json()['totalValidators']} validators"
    )
    print(f"""
To make the same calls yourself (the name resolves on this machine only):
  gRPC:     dial {DOMAIN}:443 with TLS, trusting {ca}
            (Python: grpc.secure_channel("{DOMAIN}:443", grpc.ssl_channel_credentials(open("{ca}", "rb").read())))
  JSON-RPC: curl --cacert {ca} -H 'Content-Type: application/json' \\
              -d '{{"jsonrpc":"2.0","id":1,"method":"pactus.blockchain.get_blockchain_info","params":{{}}}}' \\
              https://{DOMAIN}/jsonrpc
  HTTP-API: curl --cacert {ca} https://{DOMAIN}/http/api/pactus/blockchain/get_blockchain_info
Next: `./demo preview` shows a change as a diff; `./demo down` removes everything.""")


def _retry(call, tries: int = 10):
    for attempt in range(tries):
        try:
            return call()
        except Exception:
            if attempt == tries - 1:
                raise
            time.sleep(1)


def _hosts_entry(address: str) -> None:
    """The demo's line on a line of its own; a file without a final newline gets one, which
    `down` takes back with the line."""
    _remove_hosts_entry(quiet=True)
    text = HOSTS.read_text()
    start = "\n" if text and not text.endswith("\n") else ""
    HOSTS.write_text(f"{text}{start}{address} {DOMAIN}  {HOSTS_MARK}{' (and the newline before)' if start else ''}\n")


def _remove_hosts_entry(quiet: bool = False) -> None:
    lines = HOSTS.read_text().splitlines(keepends=True)
    kept = [line for line in lines if HOSTS_MARK not in line]
    if kept != lines:
        text = "".join(kept)
        if f"{HOSTS_MARK} (and the newline before)" in lines[-1]:  # still the last line: as it was before
            text = text.removesuffix("\n")
        HOSTS.write_text(text)
        if not quiet:
            say(f"removed {DOMAIN} from {HOSTS}")


def _remember_forwarding() -> str:
    """ip_forward as it was before the first `up`, for `down` (a second `up` finds it on)."""
    saved = STATE / "ip_forward.before"
    if not saved.exists():
        saved.write_text(servers.IP_FORWARD.read_text())
    return saved.read_text()


def _stop(pid_file: Path, timeout: float = 60) -> bool:
    """SIGTERM (nspawn shuts its server down cleanly on it), then SIGKILL; True when it ran."""
    if not pid_alive(pid_file):
        return False
    pid = int(pid_file.read_text().split()[0])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid_file) and time.monotonic() < deadline:
        time.sleep(0.2)
    if pid_alive(pid_file):
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink()
    return True


def _listener(port: int) -> str | None:
    lines = subprocess.run(["ss", "-Hltnup", f"sport = :{port}"], capture_output=True, text=True).stdout.strip()
    return lines.split()[-1] if lines else None


def main() -> None:
    os.umask(0o077)  # the stack, its state and the keys: root's alone (the server's files keep Debian's modes)
    parser = argparse.ArgumentParser(prog="./demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("up", "preview", "down"))
    command = parser.parse_args().command
    started = time.monotonic()
    try:
        {"up": up, "preview": preview, "down": down}[command]()
    except DemoError as error:
        sys.exit(f"demo: {error}")
    say(f"{command} took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
