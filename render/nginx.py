"""The two Nginx files of a node: the port-80 ACME/redirect server and the TLS proxy."""

from __future__ import annotations

from dataclasses import dataclass

from render.host_layout import ACME_WEBROOT, HostLayout
from render.templating import render
from settings import Settings

# gRPC services of the `pactus` proto package; Wallet signs and sends transactions.
PUBLIC_GRPC_SERVICES = ("Blockchain", "Network", "Transaction", "Utils")
WALLET_GRPC_SERVICES = ("Wallet",)


@dataclass(frozen=True)
class Upstream:
    upstream: str
    listen: str
    max_body_size: str


@dataclass(frozen=True)
class GrpcRoute(Upstream):
    services: tuple[str, ...]
    denied: tuple[str, ...]
    path_prefix: str | None


@dataclass(frozen=True)
class JsonRpcRoute(Upstream):
    path: str


@dataclass(frozen=True)
class HttpRoute(Upstream):
    base_path: str


@dataclass(frozen=True)
class RateLimitZone:
    zone: str
    requests_per_second: int
    burst: int
    connections_zone: str
    in_progress: int


@dataclass(frozen=True)
class BasicAuthGate:
    realm: str
    user_file: str


def render_acme_http_site(settings: Settings) -> str:
    return render(
        "nginx/acme-http.conf.j2",
        stack=settings.stack,
        domain=settings.name,
        webroot=ACME_WEBROOT,
        ipv6=settings.host_ipv6 is not None,
    )


def render_tls_site(settings: Settings, *, http2_directive: bool) -> str:
    """The TLS server. `http2_directive`: nginx >= 1.25.1 wants `http2 on;`, older the listen flag."""
    layout = HostLayout(settings.name)
    prefix = layout.upstream_prefix
    body = settings.max_body_size
    grpc = jsonrpc = http = None
    if settings.grpc.enable:
        wallet = WALLET_GRPC_SERVICES if settings.expose_wallet else ()
        grpc = GrpcRoute(
            f"{prefix}_grpc",
            str(settings.grpc.listen),
            body.grpc,
            PUBLIC_GRPC_SERVICES + wallet,
            WALLET_GRPC_SERVICES if not settings.expose_wallet else (),
            settings.grpc.path_prefix,
        )
    if settings.jsonrpc.enable:
        jsonrpc = JsonRpcRoute(f"{prefix}_jsonrpc", str(settings.jsonrpc.listen), body.jsonrpc, settings.jsonrpc.path)
    if settings.http.enable:
        http = HttpRoute(f"{prefix}_http", str(settings.http.listen), body.http, settings.http.base_path)
    # With basicAuth, gRPC asks for the credential too: the node checks it (grpc.basicAuth), else Nginx.
    grpc_gate = settings.basic_auth and not settings.grpc.basic_auth
    return render(
        "nginx/tls-proxy.conf.j2",
        stack=settings.stack,
        domain=settings.name,
        certificate=layout.certificate,
        certificate_key=layout.certificate_key,
        access_log=layout.access_log,
        log_format=f"{prefix}_access",
        http2_directive=http2_directive,
        ip_address=settings.ip_address_certificate,
        ipv6=settings.host_ipv6 is not None,
        upstreams=[api for api in (grpc, jsonrpc, http) if api],
        grpc=grpc,
        jsonrpc=jsonrpc,
        http=http,
        rate_limit=RateLimitZone(
            f"{prefix}_api",
            settings.rate_limit.requests_per_second,
            settings.rate_limit.burst,
            f"{prefix}_connections",
            settings.rate_limit.in_progress,
        )
        if settings.rate_limit.enable
        else None,
        client_key=f"{layout.variable_prefix}_client",
        options_with_body=f"{layout.variable_prefix}_options_with_body",
        grpc_gate=grpc_gate,
        basic_auth=BasicAuthGate(f"Pactus node {settings.name}", layout.htpasswd) if settings.basic_auth else None,
    )
