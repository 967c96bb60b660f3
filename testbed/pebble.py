"""pebble, a real ACME server (v2.10, built by tools/build), with pebble-challtestsrv as its
DNS: what the real-host suite and the demo issue certificates from. Its issuing root is new
at every start."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from testbed.certificates import self_signed
from testbed.tools import tool


@dataclass(frozen=True)
class Ports:
    acme: int = 14000
    management: int = 15000
    dns: int = 8053
    dns_management: int = 8055

    def directory(self, host: str) -> str:
        """The ACME directory's URL for a client that reaches pebble at `host`."""
        return f"https://{host}:{self.acme}/dir"

    def dns_api(self, host: str) -> str:
        """challtestsrv's management API, where tests add and remove DNS answers."""
        return f"http://{host}:{self.dns_management}"


@dataclass(frozen=True)
class Pebble:
    directory: str  # the ACME directory URL, as certbot on the host asks it
    api_ca: Path  # the CA of pebble's own HTTPS API, which certbot trusts
    issuing_root: Path  # the root pebble signs certificates under, which clients trust
    log: Path  # every request pebble answered


# Let's Encrypt's default profile: 90 days. Pebble picks a profile at random for an order that
# names none, so a pebble that must answer as Let's Encrypt does by default offers only this.
CLASSIC = {"classic": 90 * 24 * 3600}


def start(
    work: Path,
    processes: list[subprocess.Popen],
    *,
    listen: str,
    api_addresses: tuple[str, ...],
    default_ipv4: str,
    ports: Ports = Ports(),
    profiles: dict[str, int] = CLASSIC,
    dns: str | None = None,
) -> Pebble:
    """Starts challtestsrv (answering `default_ipv4` for every name) and pebble on `listen`,
    offering `profiles` (name: validity in seconds); each process is appended to `processes`
    as it starts, for the caller to stop (its program's name is its args[0]). With `dns` (a
    running challtestsrv's address), pebble asks that one and no challtestsrv is started."""
    if not (work / "pebble.pem").exists():
        api_certificate(work, api_addresses)
    _write_config(work, listen, ports, profiles)
    if dns is None:
        dns = _start_challtestsrv(work, processes, ports, default_ipv4)
    processes.append(
        subprocess.Popen(
            [tool("pebble"), "-config", str(work / "pebble.json"), "-dnsserver", dns],
            env={**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"},
            stdout=(work / "pebble.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    )
    wait_for_port(ports.acme, processes[-1], "pebble", host=api_addresses[0])
    wait_for_port(ports.management, processes[-1], "pebble management")
    context = ssl.create_default_context(cafile=str(work / "pebble.pem"))
    with urllib.request.urlopen(f"https://127.0.0.1:{ports.management}/roots/0", context=context) as response:
        (work / "issuing-root.pem").write_bytes(response.read())
    return running(work, api_addresses=api_addresses, ports=ports)


def _write_config(work: Path, listen: str, ports: Ports, profiles: dict[str, int]) -> None:
    profile_list = {
        name: {"description": f"{seconds} seconds", "validityPeriod": seconds} for name, seconds in profiles.items()
    }
    config = {
        "listenAddress": f"{listen}:{ports.acme}",
        "managementListenAddress": f"127.0.0.1:{ports.management}",
        "certificate": str(work / "pebble.pem"),
        "privateKey": str(work / "pebble.key"),
        "httpPort": 80,
        "tlsPort": 443,
        "externalAccountBindingRequired": False,
        "profiles": profile_list,
        "ocspResponderURL": "http://127.0.0.1:4002/",  # a revocation URL in each certificate, as testssl.sh rates it
    }
    (work / "pebble.json").write_text(json.dumps({"pebble": config}))


def _start_challtestsrv(work: Path, processes: list[subprocess.Popen], ports: Ports, default_ipv4: str) -> str:
    """pebble's DNS, answering `default_ipv4` for every name, and none of its challenge servers; its address."""
    dns = f"127.0.0.1:{ports.dns}"
    command = [tool("pebble-challtestsrv"), "-dnsserver", dns, "-defaultIPv4", default_ipv4, "-defaultIPv6", ""]
    for server in ("-http01", "-https01", "-tlsalpn01", "-doh"):
        command += [server, ""]
    processes.append(
        subprocess.Popen(
            [*command, "-management", f"127.0.0.1:{ports.dns_management}"],
            stdout=(work / "challtestsrv.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    )
    wait_for_port(ports.dns_management, processes[-1], "pebble-challtestsrv")
    return dns


def running(work: Path, *, api_addresses: tuple[str, ...], ports: Ports = Ports()) -> Pebble:
    """The pebble that `start` started in `work`."""
    return Pebble(
        directory=f"https://{api_addresses[0]}:{ports.acme}/dir",
        api_ca=work / "pebble.pem",
        issuing_root=work / "issuing-root.pem",
        log=work / "pebble.log",
    )


def api_certificate(work: Path, api_addresses: tuple[str, ...]) -> None:
    """A self-signed certificate for pebble's own HTTPS API (Debian's pebble ships none)."""
    alt_names = "DNS:localhost," + ",".join(f"IP:{address}" for address in api_addresses)
    self_signed(work / "pebble.pem", work / "pebble.key", name="pebble", days=30, alt_names=alt_names)


def wait_for_port(
    port: int, process: subprocess.Popen, name: str, timeout: float = 20, host: str = "127.0.0.1"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on {host}:{port} within {timeout}s")


def tell_dns(management: str, path: str, body: dict) -> None:
    """pebble's DNS (challtestsrv), told what to answer: /add-a, /set-servfail, ... ."""
    request = urllib.request.Request(f"{management}{path}", data=json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(request).close()
