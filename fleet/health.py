"""`fleet status` as a monitor: each node read as a client meets it (its certificate, each
enabled API, its chain), then judged in the monitoring-plugin convention that Nagios, Icinga
and Sensu read. Reading changes nothing: no SSH, no stack update.

A node's state is its worst finding. The fleet's is the worst node's, CRITICAL before
UNKNOWN before WARNING (an unreadable node hides less than a broken one).
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
from pactus_grpc import blockchain_pb2, blockchain_pb2_grpc

from clients.endpoint import JSONRPC_CALL, peer_certificate, validity
from render.renewal import renewal_due

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATE_NAMES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
SEVERITY = (OK, WARNING, UNKNOWN, CRITICAL)  # from least to most urgent


def worst(states) -> int:
    return max(states, key=SEVERITY.index, default=OK)


@dataclass(frozen=True)
class Thresholds:
    """When a finding turns WARNING or CRITICAL; each is a flag of `fleet status`."""

    renewal_grace: timedelta = timedelta(hours=24)  # past renewalDue: our renewal timer's longest gap
    critical_left: float = 0.10  # of the certificate's lifetime: 9 days of 90, 16 hours of 160
    lag_warning: int = 6  # blocks behind the fleet's highest node: a minute, at one block in about 10 s
    lag_critical: int = 60
    stall_warning: timedelta = timedelta(minutes=2)  # since the node's last block
    stall_critical: timedelta = timedelta(minutes=10)


@dataclass
class Reading:
    """What the public endpoint answered."""

    issued: datetime | None = None
    expires: datetime | None = None
    tls_error: str | None = None
    apis: dict[str, str] = field(default_factory=dict)  # api -> "ok", "credential asked" or what failed
    height: int | None = None
    last_block: datetime | None = None


@dataclass(frozen=True)
class Target:
    """Where a node answers, from its settings and its stack's outputs."""

    name: str  # what clients dial: the domain, or the IP address
    grpc: bool
    jsonrpc_path: str | None
    http_base_path: str | None
    ca_bundle: str | None
    port: int = 443
    timeout: float = 10


def read(target: Target) -> Reading:
    reading = Reading()
    try:
        peer = peer_certificate(target.name, target.port, target.ca_bundle, target.timeout)
        reading.issued, reading.expires = validity(peer)
    except (OSError, ssl.SSLError) as error:
        reading.tls_error = f"TLS to {target.name}:{target.port}: {error}"
        return reading
    if target.grpc:
        reading.apis["gRPC"] = _grpc(target, reading)
    if target.jsonrpc_path:
        reading.apis["JSON-RPC"] = _jsonrpc(target, reading)
    if target.http_base_path:
        reading.apis["HTTP-API"] = _http_api(target, reading)
    return reading


def _chain(reading: Reading, height: int, last_block_seconds: int) -> None:
    if reading.height is None:
        reading.height = height
        reading.last_block = datetime.fromtimestamp(last_block_seconds, UTC) if height else None


def _grpc(target: Target, reading: Reading) -> str:
    roots = Path(target.ca_bundle).read_bytes() if target.ca_bundle else None
    with grpc.secure_channel(f"{target.name}:{target.port}", grpc.ssl_channel_credentials(roots)) as channel:
        try:
            info = blockchain_pb2_grpc.BlockchainStub(channel).GetBlockchainInfo(
                blockchain_pb2.GetBlockchainInfoRequest(), timeout=target.timeout
            )
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.UNAUTHENTICATED:
                return "credential asked"
            return f"{error.code().name}: {error.details()}"
    _chain(reading, info.last_block_height, info.last_block_time)
    return "ok"


def _jsonrpc(target: Target, reading: Reading) -> str:
    answer = _https(target, target.jsonrpc_path, json.dumps(JSONRPC_CALL).encode())
    if isinstance(answer, str):
        return answer
    result = answer.get("result")
    if not isinstance(result, dict):
        return f"no result: {json.dumps(answer)[:120]}"
    _chain(reading, int(result.get("last_block_height", 0)), int(result.get("last_block_time", 0)))
    return "ok"


def _http_api(target: Target, reading: Reading) -> str:
    answer = _https(target, f"{target.http_base_path}/api/pactus/blockchain/get_blockchain_info", None)
    if isinstance(answer, str):
        return answer
    if "lastBlockHash" not in answer:
        return f"no blockchain info: {json.dumps(answer)[:120]}"
    _chain(reading, int(answer.get("lastBlockHeight", 0)), int(answer.get("lastBlockTime", 0)))
    return "ok"


def _https(target: Target, path: str, body: bytes | None) -> dict | str:
    """The JSON answer, or what failed; a 401 means the node asks for the credential."""
    url = f"https://{target.name}:{target.port}{path}"
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    context = ssl.create_default_context(cafile=target.ca_bundle)
    try:
        with urllib.request.urlopen(request, timeout=target.timeout, context=context) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        return "credential asked" if error.code == 401 else f"HTTP {error.code}"
    except (OSError, ValueError) as error:
        return str(error)[:120]
    return answer if isinstance(answer, dict) else f"not a JSON object: {str(answer)[:120]}"


@dataclass
class Verdict:
    state: int
    findings: list[str]  # what made it so, most urgent first


def judge(reading: Reading, highest: int | None, now: datetime, limits: Thresholds) -> Verdict:
    """The node's state: CRITICAL when a client cannot use it, WARNING when it soon may not."""
    if reading.tls_error:
        return Verdict(CRITICAL, [reading.tls_error])
    found: list[tuple[int, str]] = []
    left, lifetime = reading.expires - now, reading.expires - reading.issued
    due = renewal_due(reading.issued, reading.expires)
    if left <= lifetime * limits.critical_left:
        found.append((CRITICAL, f"certificate ends in {_span(left)}"))
    elif now > due + limits.renewal_grace:
        found.append((WARNING, f"renewal overdue since {due:%Y-%m-%d %H:%M} UTC"))
    for api, answer in reading.apis.items():
        if answer not in ("ok", "credential asked"):
            found.append((CRITICAL, f"{api}: {answer}"))
    if reading.height is not None and highest is not None:
        lag = highest - reading.height
        if lag > limits.lag_warning:
            found.append((CRITICAL if lag > limits.lag_critical else WARNING, f"{lag} blocks behind"))
    if reading.last_block is not None:
        age = now - reading.last_block
        if age > limits.stall_warning:
            found.append((CRITICAL if age > limits.stall_critical else WARNING, f"no block for {_span(age)}"))
    found.sort(key=lambda finding: -SEVERITY.index(finding[0]))
    return Verdict(worst(state for state, _ in found), [text for _, text in found])


def _span(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds >= 2 * 3600:
        return f"{seconds // 3600} hours"
    if seconds >= 120:
        return f"{seconds // 60} minutes"
    return f"{seconds} s"
