"""The data path: what the proxy costs, measured on this machine in one run.

The backend is a real Pactus node (pactus-daemon from tools/build, testnet, restarted on
the config.toml the program writes). Each API is loaded by h2load (nghttp2-client) for a fixed
time at 1 and at 50 concurrent clients (one connection each, one request in flight):
- directly at the backend (gRPC over h2c, JSON-RPC over HTTP/1.1);
- through the program's Nginx config, deployed by the program on this machine (TLS);
- through Caddy (Debian's package), configured for the same routes with the same
  certificate, the alternative an operator would reach for.
Requests/s, p50 and p99 latency (from h2load's per-request log) are medians of --runs
runs; the ratio is to direct. The rate limit is off here: it caps clients by design.
Also checked: a second TLS connection resumes the first's session.

    sudo venv/bin/python -m bench.data_path [--seconds 3] [--runs 3]    # about 3 minutes
    sudo venv/bin/python -m bench.data_path --short                     # a check that it works
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from render.host_layout import HostLayout
from testbed.stack import Project
from testbed.this_machine import DOMAIN, node_stack, this_host_as_the_node, this_machine_as_a_node, wait_for_port

CADDY_PORT = 8443
GRPC_METHOD = "/pactus.Blockchain/GetBlockchainInfo"
GRPC_EMPTY_MESSAGE = b"\x00\x00\x00\x00\x00"  # uncompressed, length 0: GetBlockchainInfoRequest{}
JSONRPC_BODY = b'{"jsonrpc": "2.0", "id": 1, "method": "pactus.blockchain.get_blockchain_info"}'

CADDYFILE = """{{
    admin off
    auto_https off
}}
https://{domain}:{port} {{
    tls {certificate} {key}
    @grpc path /pactus.Blockchain/* /pactus.Network/* /pactus.Transaction/* /pactus.Utils/*
    handle @grpc {{
        reverse_proxy h2c://{grpc}
    }}
    handle /jsonrpc {{
        rewrite * /
        reverse_proxy {jsonrpc}
    }}
    handle /http/* {{
        reverse_proxy {http}
    }}
}}
"""


def h2load(url: str, clients: int, seconds: float, body: Path, headers: list[str], http1: bool, log: Path) -> dict:
    args = [
        "h2load",
        "-D",
        str(seconds),
        "-c",
        str(clients),
        "-m",
        "1",
        "-t",
        str(min(clients, os.cpu_count() or 1)),
        "-d",
        str(body),
        "--log-file",
        str(log),
        *[f"-H{h}" for h in headers],
        url,
    ]
    if http1:
        args.insert(1, "--h1")
    result = subprocess.run(args, capture_output=True, text=True, check=True, timeout=seconds * 5 + 60)
    failed = int(re.search(r"(\d+) failed", result.stdout).group(1))
    # One line a request: start (µs since the epoch), status, µs to the end of the response.
    requests = [tuple(map(int, line.split("\t")[:3])) for line in log.read_text().splitlines() if line.strip()]
    if failed or not requests:
        raise RuntimeError(f"{url}: {failed} failed requests\n{result.stdout}")
    span_s = (max(start + took for start, _, took in requests) - min(start for start, _, _ in requests)) / 1e6
    latencies = sorted(took for _, _, took in requests)
    return {
        "rps": len(requests) / span_s,
        "p50_ms": latencies[len(latencies) // 2] / 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] / 1000,
        "requests": len(requests),
    }


def resumed(port: int, version: str) -> bool:
    """A second TLS connection with the first's session is resumed. The first stays open a
    moment: TLS 1.3 hands out its session after the handshake."""
    with tempfile.TemporaryDirectory() as work:
        session = Path(work) / "session.pem"
        connect = ["openssl", "s_client", f"-{version}", "-connect", f"127.0.0.1:{port}", "-servername", DOMAIN]
        first = subprocess.Popen(
            [*connect, "-sess_out", str(session)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        first.communicate(b"", timeout=20)
        second = subprocess.run(
            [*connect, "-sess_in", str(session)], input="", capture_output=True, text=True, timeout=20
        )
        return "Reused, TLS" in second.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--short", action="store_true", help="1 second, 1 run: a check that the benchmark works")
    args = parser.parse_args()
    seconds, runs = (1, 1) if args.short else (args.seconds, args.runs)
    for tool in ("h2load", "caddy", "openssl"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: apt-get install nghttp2-client caddy openssl")
    with tempfile.TemporaryDirectory(prefix="pactus-secure-bench-") as folder:  # removed afterwards, keys and all
        work = Path(folder)
        (work / "machine").mkdir()
        with this_machine_as_a_node(work / "machine") as machine:
            listens = machine.node.loopback_listens()  # where the running node answers: the check passes at once
            stack = _deployed(work, machine, listens)
            caddy = _caddy(work, listens)
            try:
                wait_for_port(CADDY_PORT, caddy, "caddy")
                _measure(_apis(work, machine), seconds, runs, work / "h2load.log")
                for version in ("tls1_2", "tls1_3"):
                    print(
                        f"\n{version}: session resumed on a second connection: nginx {resumed(443, version)}, "
                        f"caddy {resumed(CADDY_PORT, version)}",
                        end="",
                    )
                print()
            finally:
                caddy.send_signal(signal.SIGTERM)
                caddy.wait(timeout=10)
                stack.destroy()
                time.sleep(0.1)


def _deployed(work: Path, machine, listens: dict[str, str]):
    """The program's Nginx in front of this machine's node, rate limit off; the node restarted
    on the config.toml the up wrote (its APIs on loopback)."""
    config = this_host_as_the_node(
        machine,
        DOMAIN,
        machine.pactus_dir,
        grpc={"listen": listens["grpc"]},
        jsonrpc={"enable": True, "listen": listens["jsonrpc"]},
        http={"enable": True, "listen": listens["http"]},
        rateLimit={"enable": False},
    )
    stack = node_stack(Project(work / "pulumi"), "bench", config, machine)
    stack.up()
    machine.node.restart()
    return stack


def _caddy(work: Path, listens: dict[str, str]) -> subprocess.Popen:
    """Caddy with the same routes as the program's Nginx, to where the node listens, and its certificate."""
    layout = HostLayout(DOMAIN)
    (work / "Caddyfile").write_text(
        CADDYFILE.format(
            domain=DOMAIN, port=CADDY_PORT, certificate=layout.certificate, key=layout.certificate_key, **listens
        )
    )
    return subprocess.Popen(
        ["caddy", "run", "--config", str(work / "Caddyfile"), "--adapter", "caddyfile"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        env={**os.environ, "XDG_DATA_HOME": str(work), "XDG_CONFIG_HOME": str(work)},
    )


def _apis(work: Path, machine) -> dict[str, tuple]:
    """Each API's request body, headers, whether it is HTTP/1.1, and its URL on each path."""
    grpc_body, jsonrpc_body = work / "grpc.bin", work / "jsonrpc.json"
    grpc_body.write_bytes(GRPC_EMPTY_MESSAGE)
    jsonrpc_body.write_bytes(JSONRPC_BODY)
    return {
        "gRPC unary": (
            grpc_body,
            ["content-type: application/grpc", "te: trailers"],
            False,
            {
                "direct": f"http://{machine.node.grpc_target()}{GRPC_METHOD}",
                "nginx": f"https://{DOMAIN}{GRPC_METHOD}",
                "caddy": f"https://{DOMAIN}:{CADDY_PORT}{GRPC_METHOD}",
            },
        ),
        "JSON-RPC": (
            jsonrpc_body,
            ["content-type: application/json"],
            True,
            {
                "direct": machine.node.jsonrpc_url(),
                "nginx": f"https://{DOMAIN}/jsonrpc",
                "caddy": f"https://{DOMAIN}:{CADDY_PORT}/jsonrpc",
            },
        ),
    }


def _measure(apis: dict[str, tuple], seconds: float, runs: int, log: Path) -> None:
    print(
        f"# data path: {os.cpu_count()} CPUs, {seconds:g} s per run, medians of {runs} runs; "
        "h2load, one connection per client"
    )
    print(f"{'API':<11} {'clients':>7} {'path':<7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x direct':>9}")
    for api, (body, headers, http1, targets) in apis.items():
        for clients in (1, 50):
            direct_rps = None
            for path, url in targets.items():
                samples = [h2load(url, clients, seconds, body, headers, http1, log) for _ in range(runs)]
                row = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
                direct_rps = direct_rps or row["rps"]
                print(
                    f"{api:<11} {clients:>7} {path:<7} {row['rps']:9.0f} {row['p50_ms']:8.2f} "
                    f"{row['p99_ms']:8.2f} {row['rps'] / direct_rps:9.2f}"
                )


if __name__ == "__main__":
    main()
