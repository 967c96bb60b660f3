"""A real Pactus node for the real-host suite: `pactus-daemon` from tools/build, a testnet
node restored from a fixed mnemonic, so it answers its APIs at height 0 without peers.

`pactus-daemon init` exits 0 even when it fails, so what it must write is checked. The
daemon reads config.toml only at start: after a deploy writes it, `restart()` applies it
(on this machine no systemd runs, so no `pactusService` does it for the suite).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import tomllib
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from testbed.processes import terminate
from testbed.tools import tool

# BIP-39's test mnemonic: a throwaway testnet wallet.
MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
WALLET_PASSWORD = "pactus-secure-suite"


@dataclass
class PactusNode:
    working_dir: Path
    log: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    def init(self) -> str:
        """`pactus-daemon init` for testnet; returns the config.toml it wrote."""
        result = subprocess.run(
            [
                tool("pactus-daemon"),
                "init",
                "-w",
                str(self.working_dir),
                "--testnet",
                "-p",
                WALLET_PASSWORD,
                "--val-num",
                "1",
                "--restore",
                MNEMONIC,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        for written in ("config.toml", "genesis.json", "wallets/default_wallet"):
            assert (self.working_dir / written).exists(), (
                f"pactus-daemon init wrote no {written}: {result.stdout}{result.stderr}"
            )
        return (self.working_dir / "config.toml").read_text()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [tool("pactus-daemon"), "start", "-w", str(self.working_dir), "-p", WALLET_PASSWORD],
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.wait_answering()

    def stop(self) -> None:
        terminate(self.process, timeout=20)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def config(self) -> dict:
        return tomllib.loads((self.working_dir / "config.toml").read_text())

    def rejected_configs(self) -> list[Path]:
        """Files Pactus renamed because it could not decode them strictly."""
        return sorted(self.working_dir.glob("config.toml_bak_*"))

    def http_api_base(self) -> str:
        http = self.config().get("http", {})
        return f"http://{_dial(http.get('listen', '127.0.0.1:8080'))}{http.get('base_path', '/http')}"

    def grpc_target(self) -> str:
        return _dial(self.config().get("grpc", {}).get("listen", "127.0.0.1:50051"))

    def jsonrpc_url(self) -> str:
        return f"http://{_dial(self.config().get('jsonrpc', {}).get('listen', '127.0.0.1:8545'))}/"

    def loopback_listens(self) -> dict[str, str]:
        """Where each API of the running node answers on loopback, as a stack's `listen` names it."""
        config = self.config()
        return {
            api: _dial(config.get(api, {}).get("listen", default))
            for api, default in (("grpc", "127.0.0.1:50051"), ("jsonrpc", "127.0.0.1:8545"), ("http", "127.0.0.1:8080"))
        }

    def blockchain_info(self) -> dict:
        """GetBlockchainInfo asked of the node directly, on loopback, over its HTTP-API."""
        with urllib.request.urlopen(
            f"{self.http_api_base()}/api/pactus/blockchain/get_blockchain_info", timeout=5
        ) as response:
            return json.load(response)

    def listeners(self) -> list[str]:
        """The local addresses the daemon's process listens on (TCP)."""
        assert self.process is not None
        lines = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout.splitlines()
        return [line.split()[3] for line in lines if f"pid={self.process.pid}," in line]

    def p2p_ports(self) -> set[str]:
        """The peer-to-peer ports: testnet's 21777 unless [network] listen_addrs names others."""
        addresses = self.config().get("network", {}).get("listen_addrs") or ["/ip4/0.0.0.0/tcp/21777"]
        return {m.group(1) for a in addresses if (m := re.search(r"/(?:tcp|udp)/(\d+)", a))}

    def wait_answering(self, timeout: float = 30) -> None:
        """Until every enabled API accepts connections (the HTTP-API starts last)."""
        config = self.config()
        targets = [
            _dial(config.get(api, {}).get("listen", default))
            for api, default in (("grpc", "127.0.0.1:50051"), ("jsonrpc", "127.0.0.1:8545"), ("http", "127.0.0.1:8080"))
            if config.get(api, {}).get("enable", True)
        ]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"pactus-daemon exited with {self.process.returncode}: {self.log.read_text()[-3000:]}"
                )
            try:
                for target in targets:
                    host, port = target.rsplit(":", 1)
                    socket.create_connection((host.strip("[]"), int(port)), 1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"pactus-daemon did not answer within {timeout}s: {self.log.read_text()[-3000:]}")


def _dial(listen: str) -> str:
    """Where a client on this machine reaches a listen address: a wildcard means loopback."""
    host, port = listen.rsplit(":", 1)
    return f"{'127.0.0.1' if host in ('', '0.0.0.0', '[::]') else host}:{port}"
