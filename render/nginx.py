"""The two Nginx files of a node: the port-80 ACME/redirect server and the TLS proxy."""

from __future__ import annotations

from dataclasses import dataclass

from render.host_layout import ACME_WEBROOT, HostLayout
from render.templating import render
from settings import Settings
from settings.constants import METRICS_PATH

# gRPC services of the `pactus` proto package; Wallet signs and sends transactions.
PUBLIC_GRPC_SERVICES = ("Blockchain", "Network", "Transaction", "Utils")
# The one public call that takes a private key, by its name on each API.
SIGN_WITH_KEY_GRPC = "Utils/SignMessageWithPrivateKey"
SIGN_WITH_KEY_HTTP = "utils/sign_message_with_private_key"
SIGN_WITH_KEY_JSONRPC = "pactus.utils.sign_message_with_private_key"


@dataclass(frozen=True)
class DeniedCall:
    """A call the proxy answers itself: `pattern` follows the API's service path in a regex."""

    pattern: str
    name: str
    why: str


@dataclass(frozen=True)
class WalletRoute:
    networks: tuple[str, ...]  # the clients it is routed to; () for every address (behind the credential)


@dataclass(frozen=True)
class Upstream:
    upstream: str
    listen: str
    max_body_size: str


@dataclass(frozen=True)
class GrpcRoute(Upstream):
    services: tuple[str, ...]
    wallet: WalletRoute | None
    denied: tuple[DeniedCall, ...]
    path_prefix: str | None


@dataclass(frozen=True)
class JsonRpcGuard:
    """njs reads each body and refuses these methods (templates/nginx/jsonrpc-guard.js.j2)."""

    script: str
    denied_methods: tuple[str, ...]


@dataclass(frozen=True)
class JsonRpcRoute(Upstream):
    path: str
    guard: JsonRpcGuard | None


@dataclass(frozen=True)
class HttpRoute(Upstream):
    base_path: str
    wallet: WalletRoute | None
    denied: tuple[DeniedCall, ...]


@dataclass(frozen=True)
class MetricsRoute:
    """The one page of Pactus's debug server that is proxied, to its scrapers alone."""

    upstream: str
    listen: str
    path: str
    node_path: str
    scrapers: tuple[str, ...]


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
    realm_variable: str  # the realm, or "off" for OPTIONS
    user_file: str


def render_acme_http_site(settings: Settings) -> str:
    return render(
        "nginx/acme-http.conf.j2",
        stack=settings.stack,
        domain=settings.name,
        webroot=ACME_WEBROOT,
        ipv6=settings.host_ipv6 is not None,
    )


def jsonrpc_guarded(settings: Settings) -> bool:
    """JSON-RPC has a method to refuse, which only njs can see in a body."""
    return settings.jsonrpc.enable and not settings.expose_sign_message_with_private_key


def render_jsonrpc_guard() -> str:
    return render("nginx/jsonrpc-guard.js.j2")


def render_tls_site(settings: Settings, *, http2_directive: bool, njs: bool) -> str:
    """The TLS server. `http2_directive`: nginx >= 1.25.1 wants `http2 on;`, older the listen flag.
    `njs`: Nginx runs njs, so the JSON-RPC route can read bodies and refuse a method."""
    layout = HostLayout(settings.name)
    prefix = layout.upstream_prefix
    grpc, jsonrpc, http, metrics = _routes(settings, layout, njs)
    # With basicAuth, gRPC asks for the credential too: the node checks it (grpc.basicAuth), else Nginx.
    grpc_gate = settings.credential_set and not settings.grpc.basic_auth
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
        upstreams=[api for api in (grpc, jsonrpc, http, metrics) if api],
        grpc=grpc,
        jsonrpc=jsonrpc,
        http=http,
        metrics=metrics,
        rate_limit=_rate_limit(settings, prefix),
        client_key=f"{layout.variable_prefix}_client",
        options_with_body=f"{layout.variable_prefix}_options_with_body",
        grpc_gate=grpc_gate,
        basic_auth=BasicAuthGate(f"Pactus node {settings.name}", f"{layout.variable_prefix}_realm", layout.htpasswd)
        if settings.credential_set
        else None,
    )


def _routes(
    settings: Settings, layout: HostLayout, njs: bool
) -> tuple[GrpcRoute | None, JsonRpcRoute | None, HttpRoute | None, MetricsRoute | None]:
    """Each enabled API's route, with what it refuses unless the stack asks for it."""
    prefix, body = layout.upstream_prefix, settings.max_body_size
    wallet = WalletRoute(settings.wallet_networks) if settings.wallet_routed else None
    sign_with_key = not settings.expose_sign_message_with_private_key
    grpc = jsonrpc = http = metrics = None
    if settings.grpc.enable:
        refused = _denied(
            wallet is None and DeniedCall("Wallet/", "the Wallet service", "signs and sends transactions"),
            sign_with_key and DeniedCall(f"{SIGN_WITH_KEY_GRPC}$", "SignMessageWithPrivateKey", _TAKES_A_KEY),
        )
        listen, path_prefix = str(settings.grpc.listen), settings.grpc.path_prefix
        grpc = GrpcRoute(f"{prefix}_grpc", listen, body.grpc, PUBLIC_GRPC_SERVICES, wallet, refused, path_prefix)
    if settings.jsonrpc.enable:
        guard = JsonRpcGuard(layout.jsonrpc_guard, (SIGN_WITH_KEY_JSONRPC,)) if njs and sign_with_key else None
        jsonrpc = JsonRpcRoute(
            f"{prefix}_jsonrpc", str(settings.jsonrpc.listen), body.jsonrpc, settings.jsonrpc.path, guard
        )
    if settings.http.enable:
        refused = _denied(
            wallet is None and DeniedCall("wallet/", "the wallet", "signs and sends transactions"),
            sign_with_key and DeniedCall(SIGN_WITH_KEY_HTTP, "sign_message_with_private_key", _TAKES_A_KEY),
        )
        http = HttpRoute(
            f"{prefix}_http", str(settings.http.listen), body.http, settings.http.base_path, wallet, refused
        )
    if settings.metrics.enable:
        metrics = MetricsRoute(
            f"{prefix}_metrics",
            str(settings.html.listen),
            settings.metrics.path,
            METRICS_PATH,
            settings.metrics.scrapers,
        )
    return grpc, jsonrpc, http, metrics


def _rate_limit(settings: Settings, prefix: str) -> RateLimitZone | None:
    if not settings.rate_limit.enable:
        return None
    limit = settings.rate_limit
    return RateLimitZone(
        f"{prefix}_api", limit.requests_per_second, limit.burst, f"{prefix}_connections", limit.in_progress
    )


_TAKES_A_KEY = "takes a raw private key, which nobody should send over the internet"


def _denied(*calls: DeniedCall | bool) -> tuple[DeniedCall, ...]:
    return tuple(call for call in calls if isinstance(call, DeniedCall))
