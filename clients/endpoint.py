"""The node as a user meets it, checked once from where `pulumi up` runs: the tutorial's
"open https://your-domain" done by the program.

A TLS connection to the node's name on 443 that verifies the chain and the name, then one call per
enabled API. With `basicAuth`, an API that asks for the credential counts as answering:
the program holds only the credential's hash.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc

from render.renewal import renewal_due
from render.templating import FAILS

GRPC_METHOD = "/pactus.Blockchain/GetBlockchainInfo"
JSONRPC_CALL = {"jsonrpc": "2.0", "id": 1, "method": "pactus.blockchain.get_blockchain_info", "params": {}}


class EndpointCheckFailed(Exception):
    """What was expected of the public endpoint, and what came back."""


class CertificateNotTrusted(EndpointCheckFailed):
    """The TLS handshake failed: nothing was asked of the node yet."""


@dataclass(frozen=True)
class Endpoint:
    name: str  # what clients dial: the domain, or the IP address with ipAddressCertificate
    grpc: bool
    jsonrpc_path: str | None
    http_base_path: str | None
    basic_auth_required: bool  # basicAuth: a request without the credential is refused
    ca_bundle: str | None  # trusted instead of the system store (a private ACME CA)
    port: int = 443
    timeout: float = 10
    rate_limited_tries: int = 10


@dataclass(frozen=True)
class ServedCertificate:
    expires: str  # ISO 8601, UTC
    issuer: str
    renewal_due: str  # ISO 8601, UTC: when certbot renews it (render/renewal.py)


class _RateLimited(Exception):
    """The proxy's per-client rate limit answered (429, RESOURCE_EXHAUSTED): ask again shortly."""


def check_endpoint(endpoint: Endpoint) -> ServedCertificate:
    """Each call is asked again, a second apart, while the proxy's rate limit refuses it: the
    machine running `pulumi up` may have spent its allowance just before."""
    for attempt in range(1, endpoint.rate_limited_tries + 1):
        try:
            return _check(endpoint)
        except _RateLimited as limited:
            if attempt == endpoint.rate_limited_tries:
                raise EndpointCheckFailed(str(limited)) from None
            time.sleep(1)


def _check(endpoint: Endpoint) -> ServedCertificate:
    certificate = _tls(endpoint)
    if endpoint.grpc:
        _grpc(endpoint)
    if endpoint.jsonrpc_path:
        _https(endpoint, endpoint.jsonrpc_path, json.dumps(JSONRPC_CALL).encode(), "result")
    if endpoint.http_base_path:
        _https(endpoint, f"{endpoint.http_base_path}/api/pactus/blockchain/get_blockchain_info", None, "lastBlockHash")
    return certificate


def _trust(ca_bundle: str | None) -> ssl.SSLContext:
    """The system's trust store, or the given CA bundle: chain and name verified."""
    return ssl.create_default_context(cafile=ca_bundle)


def peer_certificate(name: str, port: int, ca_bundle: str | None, timeout: float) -> dict:
    """The certificate `name:port` serves, once its chain and name are verified (ssl's dict);
    the system's trust store, or `ca_bundle`. fleet status reads it too."""
    with (
        socket.create_connection((name, port), timeout) as raw,
        _trust(ca_bundle).wrap_socket(raw, server_hostname=name) as tls,
    ):
        return tls.getpeercert()


def validity(peer: dict) -> tuple[datetime, datetime]:
    """When a served certificate begins and ends."""
    issued, expires = (
        datetime.fromtimestamp(ssl.cert_time_to_seconds(peer[k]), UTC) for k in ("notBefore", "notAfter")
    )
    return issued, expires


def _tls(endpoint: Endpoint) -> ServedCertificate:
    try:
        peer = peer_certificate(endpoint.name, endpoint.port, endpoint.ca_bundle, endpoint.timeout)
    except (OSError, ssl.SSLError) as error:
        raise CertificateNotTrusted(
            f"https://{endpoint.name}:{endpoint.port}: expected a TLS certificate for "
            f"{endpoint.name} that this machine trusts, got: {error}"
        ) from None
    issued, expires = validity(peer)
    issuer = {key: value for field in peer["issuer"] for key, value in field}
    return ServedCertificate(
        expires=expires.isoformat(),
        issuer=issuer.get("organizationName") or issuer.get("commonName", ""),
        renewal_due=renewal_due(issued, expires).isoformat(),
    )


def _grpc(endpoint: Endpoint) -> None:
    roots = Path(endpoint.ca_bundle).read_bytes() if endpoint.ca_bundle else None
    with grpc.secure_channel(f"{endpoint.name}:{endpoint.port}", grpc.ssl_channel_credentials(roots)) as channel:
        call = channel.unary_unary(GRPC_METHOD, request_serializer=lambda _: b"", response_deserializer=bytes)
        try:
            call(None, timeout=endpoint.timeout)
        except grpc.RpcError as error:
            if endpoint.basic_auth_required and error.code() == grpc.StatusCode.UNAUTHENTICATED:
                return
            failed = _RateLimited if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED else EndpointCheckFailed
            raise failed(
                f"gRPC {GRPC_METHOD} at {endpoint.name}:{endpoint.port}: expected an answer, "
                f"got {error.code().name}: {error.details()}"
            ) from None


def _https(endpoint: Endpoint, path: str, body: bytes | None, expected_key: str) -> None:
    url = f"https://{endpoint.name}:{endpoint.port}{path}"
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=endpoint.timeout, context=_trust(endpoint.ca_bundle)) as response:
            text = response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        if endpoint.basic_auth_required and error.code == 401:
            return
        failed = _RateLimited if error.code == 429 else EndpointCheckFailed
        raise failed(f"{url}: expected the node's answer, got HTTP {error.code}") from None
    except OSError as error:
        raise EndpointCheckFailed(f"{url}: expected the node's answer, got: {error}") from None
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or expected_key not in answer:
        raise EndpointCheckFailed(f"{url}: expected JSON with {expected_key!r}, got: {text[:200]}")


# The environment variable that tells the check config.toml was written and nobody restarted the node.
CONFIG_UNAPPLIED = "PACTUS_SECURE_CONFIG_UNAPPLIED"
RESTART_CAUSE = (
    "config.toml changed and pactusService is not set, so nobody restarted the node: it may "
    "still run its previous config.toml. Restart Pactus yourself, then run pulumi up again, or "
    "set pactus-secure:pactusService to the node's systemd unit. "
)


def main() -> int:
    """The check as the stack's endpoint-check step runs it: the Endpoint as JSON on stdin,
    the served certificate as JSON on stdout; a failure is one `pactus-secure: error:` line
    on stderr, led by the likely cause when config.toml was written and nobody restarted
    the node."""
    endpoint = Endpoint(**json.loads(sys.stdin.read()))
    try:
        served = check_endpoint(endpoint)
    except EndpointCheckFailed as failed:
        unapplied = os.environ.get(CONFIG_UNAPPLIED) == "yes" and not isinstance(failed, CertificateNotTrusted)
        print(f"{FAILS}the endpoint check failed: {RESTART_CAUSE if unapplied else ''}{failed}", file=sys.stderr)
        return 1
    print(json.dumps(dataclasses.asdict(served)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
