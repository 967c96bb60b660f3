"""Every key of the stack config, declared once: its type, default, check, Pactus name, and help.

A key is a field of `Settings` or of one of its objects, declared with `setting(...)`: its
config name is the field's name in camelCase (`ssh_port` is `sshPort`, `grpc.base_path`
would be `grpc.basePath`). The parser (settings/parse.py), Pulumi.yaml's declarations and
README's table (settings/docs.py) are derived from these declarations. Fields declared
without `setting` are not keys: the parser fills them in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from settings import checks, pactus_schema
from settings.constants import (
    CERTBOT_PYPI_VERSION,
    CERTBOT_VENV,
    DISTROS,
    GUI_GRPC_PREFIX,
    IP_ADDRESS_PROFILE,
    METRICS_PATH,
)
from settings.problems import Problems
from settings.types import Listen

REQUIRED = object()  # a default that says: no default, the operator sets it


@dataclass(frozen=True)
class Setting:
    help: str
    check: Callable[[str, Any, Problems], Any] | None  # None: an object of further settings
    default: Any = None  # REQUIRED, None for "not set", or the value as a config would hold it
    pactus: str | None = None  # its name in config.toml's section of the same object
    shown_default: str | None = None  # README's wording where the default is not a plain value


def setting(
    help: str,
    check: Callable[[str, Any, Problems], Any],
    default: Any = None,
    *,
    pactus: str | None = None,
    shown_default: str | None = None,
) -> Any:
    return field(metadata={"setting": Setting(help, check, default, pactus, shown_default)})


def section(help: str) -> Any:
    """A key holding an object whose fields are settings of their own."""
    return field(metadata={"setting": Setting(help, None)})


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


@dataclass(frozen=True)
class GrpcApi:
    enable: bool = setting("serve gRPC at `/pactus.<Service>/<Method>`", checks.boolean, True, pactus="enable")
    listen: Listen = setting(
        "where Pactus's gRPC server listens: loopback", checks.listen, "127.0.0.1:50051", pactus="listen"
    )
    basic_auth: bool = setting(
        "the node itself checks `basicAuth` on gRPC (its `grpc.basic_auth`); without it, Nginx does",
        checks.boolean,
        False,
    )
    path_prefix: str | None = setting(
        "gRPC also under this path, where Pactus's GUI dials it (`pactus-gui -grpc-addr https://<node>/grpc-web`, "
        "as Pactus's guide says); another path such as the older tutorial's `/grpc`, or `\"\"` for none",
        checks.optional_route,
        GUI_GRPC_PREFIX,
    )


@dataclass(frozen=True)
class JsonRpcApi:
    enable: bool = setting("serve JSON-RPC at `path`", checks.boolean, False, pactus="enable")
    listen: Listen = setting(
        "where Pactus's JSON-RPC server listens: loopback", checks.listen, "127.0.0.1:8545", pactus="listen"
    )
    origins: tuple[str, ...] = setting(
        'CORS origins, answered by Pactus; `"*"` only with `allowAnyOrigin`', checks.origins, [], pactus="origins"
    )
    allow_any_origin: bool = setting(
        'let `origins` be `"*"`: any web page may call the node from its visitors\' browsers', checks.boolean, False
    )
    path: str = setting("the public path of JSON-RPC", checks.route, "/jsonrpc")


@dataclass(frozen=True)
class HttpApi:
    enable: bool = setting("serve the HTTP-API under `basePath`", checks.boolean, False, pactus="enable")
    listen: Listen = setting(
        "where Pactus's HTTP-API server listens: loopback", checks.listen, "127.0.0.1:8080", pactus="listen"
    )
    base_path: str = setting("the HTTP-API's path, public and Pactus's own", checks.route, "/http", pactus="base_path")
    enable_cors: bool = setting(
        "Pactus answers CORS on the HTTP-API, for every origin (it echoes the request's); only with `allowAnyOrigin`",
        checks.boolean,
        False,
        pactus="enable_cors",
    )
    allow_any_origin: bool = setting(
        "let `enableCors` be: any web page may call the HTTP-API from its visitors' browsers", checks.boolean, False
    )


@dataclass(frozen=True)
class HtmlPages:
    enable: bool = setting(
        "Pactus's debug pages: never proxied; loopback only, never port 80", checks.boolean, False, pactus="enable"
    )
    listen: Listen = setting("where the debug pages listen", checks.listen, "127.0.0.1:8090", pactus="listen")
    enable_pprof: bool = setting("Go's profiler on the debug pages", checks.boolean, False, pactus="enable_pprof")


@dataclass(frozen=True)
class NodeMetrics:
    enable: bool = setting(
        "serve the node's Prometheus metrics (its debug pages' `/metrics/prometheus`, which this turns on, on "
        "loopback at `html.listen`) at `path`, to `scrapers` and with the `basicAuth` credential where set; no "
        "other debug page, and outside the rate limit. Pactus's network counters need "
        "`pactusConfig.network.enable_metrics` too",
        checks.boolean,
        False,
    )
    path: str = setting("the public path of the metrics", checks.route, METRICS_PATH)
    scrapers: tuple[str, ...] = setting(
        "client networks (CIDR, at most a /16 or an IPv6 /48) that may scrape; every other address gets 403",
        checks.client_networks,
        [],
    )


@dataclass(frozen=True)
class RateLimit:
    enable: bool = setting(
        "limit each client (an IPv4 address, an IPv6 /64) on every API; beyond the limits, "
        "429 (gRPC: RESOURCE_EXHAUSTED)",
        checks.boolean,
        True,
    )
    requests_per_second: int = setting(
        "requests a second per client", checks.whole(1, 10_000, "a number of requests per second"), 10
    )
    burst: int = setting(
        "requests a client may send at once above the rate", checks.whole(0, 100_000, "a number of requests"), 20
    )
    in_progress: int = setting(
        "requests in progress per client at once", checks.whole(1, 10_000, "a number of requests"), 32
    )


@dataclass(frozen=True)
class BodySizes:
    """Largest request body per route, in Nginx's size syntax; beyond it, 413. For JSON-RPC it
    also bounds a batch: a few hundred calls at most per request (and per rate-limit token)."""

    grpc: str = setting(
        "largest gRPC request body; beyond it, 413. At most 4m: Pactus's gRPC server takes no larger message",
        checks.size_up_to("4m", "Pactus's gRPC server takes no larger message"),
        "1m",
    )
    jsonrpc: str = setting(
        "largest JSON-RPC request body (a batch: a few hundred calls). At most 256k: a body "
        "bounds the calls one rate-limit token buys",
        checks.size_up_to("256k", "a body bounds the calls one rate-limit token buys"),
        "32k",
    )
    http: str = setting(
        "largest HTTP-API request body. At most 1m: its requests carry one transaction at most",
        checks.size_up_to("1m", "HTTP-API requests carry one transaction at most"),
        "64k",
    )


@dataclass(frozen=True)
class Settings:
    stack: str
    domain: str | None = setting(
        "the node's public hostname; certificates are issued for it. Required unless `ipAddressCertificate`",
        checks.hostname,
    )
    ip_address_certificate: bool = setting(
        "no domain: the certificate is for `host`, the IPv4 address clients dial as `<host>:443`; issued under "
        "the `shortlived` profile by a certbot of 5.4 or later, with no DNS record",
        checks.boolean,
        False,
    )
    host: str = setting("the server's public IPv4: the A record's content and the SSH target", checks.ipv4, REQUIRED)
    host_ipv6: str | None = setting(
        "the server's public IPv6: an AAAA record, and Nginx listens on `[::]:80` and `[::]:443` too", checks.ipv6
    )
    ssh_host: str = setting(
        "SSH target when it differs from `host` (a private address, a name)", checks.ssh_host, shown_default="= `host`"
    )
    ssh_port: int = setting("SSH port", checks.port, 22)
    ssh_host_key: str | None = setting(
        "the server's SSH host key, as `ssh-keyscan -t ed25519 <host>` prints it; "
        "without it any key is accepted, and preview warns",
        checks.ssh_host_key,
    )
    ssh_user: str = setting("SSH user; any other than root needs passwordless sudo", checks.ssh_user, "root")
    ssh_dial_error_limit: int = setting(
        "SSH connection attempts before a step fails", checks.whole(1, 100, "a number of tries"), 5
    )
    ssh_per_dial_timeout: int = setting(
        "seconds each SSH connection attempt may take", checks.whole(1, 300, "a number of seconds"), 10
    )
    manage_dns: bool = setting(
        "create the A record at Cloudflare; `false` when it is managed elsewhere (no Cloudflare token needed then)",
        checks.boolean,
        True,
    )
    cloudflare_zone_id: str | None = setting(
        "the domain's Cloudflare zone id, from its overview page; required while `manageDns` is true", checks.zone_id
    )
    acme_email: str = setting(
        "the ACME account's contact: the CA writes there about the account and its policies (Let's Encrypt sends "
        "no expiry notices since 2025-06-04: `fleet status` warns of a renewal overdue)",
        checks.email,
        REQUIRED,
    )
    acme_server: str = setting(
        "`production`, `staging` (Let's Encrypt), or the https URL of an ACME directory",
        checks.acme_server,
        "production",
    )
    acme_profile: str | None = setting(
        "the ACME profile certbot asks for at issuance and every renewal (Let's Encrypt: `classic`, "
        "`tlsserver`, `shortlived`); unset: the CA's default (`shortlived` with `ipAddressCertificate`)",
        checks.acme_profile,
    )
    certbot: str = setting(
        "`distro` (the distribution's package), `pypi` (certbot "
        f"{CERTBOT_PYPI_VERSION} in a hash-pinned venv at `{CERTBOT_VENV}`, with its own timer) or `auto`: the "
        "distribution's where it can do what the stack asks (`acmeProfile`, `ipAddressCertificate`), else PyPI's, "
        "which then stays until `distro`",
        checks.certbot_source,
        "auto",
    )
    acme_ca_bundle: str | None = setting(
        "PEM file on the host that certbot trusts for a private ACME server, at issuance and at every renewal",
        checks.absolute_path,
    )
    check_ca_bundle: str | None = setting(
        "PEM file on the machine running `pulumi up` that the endpoint check trusts instead of the system store",
        checks.local_file,
    )
    precheck_timeout: int = setting(
        "seconds the certificate step waits for the name to lead to the host before it "
        "fails without asking the ACME server; `0` skips the check",
        checks.whole(0, 3600, "a number of seconds"),
        300,
    )
    distro: str = setting(
        f"{', '.join(f'`{name}`' for name in DISTROS)} (`auto` reads /etc/os-release on the host)",
        checks.distro,
        "auto",
    )
    pactus_dir: str = setting(
        "the node's working directory (`pactus-daemon start -w`), holding config.toml", checks.node_dir, "/root/pactus"
    )
    pactus_service: str | None = setting(
        "systemd unit restarted when config.toml changes; unset: restart Pactus yourself", checks.unit
    )
    grpc: GrpcApi = section("gRPC")
    jsonrpc: JsonRpcApi = section("JSON-RPC")
    http: HttpApi = section("the HTTP-API")
    html: HtmlPages = section("Pactus's debug pages")
    metrics: NodeMetrics = section("the node's Prometheus metrics")
    expose_wallet: bool = setting(
        "route the wallet (gRPC's Wallet service, the HTTP-API's `/api/pactus/wallet/`) to every address and set "
        "`grpc.enable_wallet`; needs `basicAuth` and `grpc.basicAuth`, so pactus-shell can use it and the GUI cannot",
        checks.boolean,
        False,
    )
    wallet_networks: tuple[str, ...] = setting(
        "client networks (CIDR, at most a /16 or an IPv6 /48) the wallet is routed to, and to no other address; "
        "sets `grpc.enable_wallet`. With no credential asked, Pactus's GUI can use it (it sends none)",
        checks.client_networks,
        [],
    )
    expose_sign_message_with_private_key: bool = setting(
        "route `Utils.SignMessageWithPrivateKey` (JSON-RPC: `pactus.utils.sign_message_with_private_key`), "
        "which takes a raw private key over the internet; refused by the proxy otherwise",
        checks.boolean,
        False,
    )
    allow_private_host: bool = setting(
        "let `host` and `hostIpv6` be addresses no internet client reaches "
        "(loopback, private, link-local): a private network or a test host; the "
        "A record then publishes them",
        checks.boolean,
        False,
    )
    allow_private_listen: bool = setting(
        "let an API listen on a private address (10/8, 172.16/12, 192.168/16, fc00::/7), not only loopback",
        checks.boolean,
        False,
    )
    rate_limit: RateLimit = section("limits per client")
    max_body_size: BodySizes = section("largest request bodies")
    firewall: bool = setting(
        "turn on ufw (Debian, Ubuntu, Arch) or firewalld (RedHat) with only `sshPort`, 80, 443 "
        "and the peer-to-peer port let in",
        checks.boolean,
        False,
    )
    p2p_port: int = setting(
        "the node's peer-to-peer port, kept open by `firewall` (testnet: 21777); the ports of "
        "`pactusConfig.network.listen_addrs` replace it",
        checks.port,
        21888,
    )
    pactus_config: Mapping[str, Any] = setting(
        "other sections of config.toml (`node`, `logger`, ...), each written whole; checked against Pactus v1.16's "
        "keys and types (`schema/pactus-config.toml`); `zeromq` publishers on loopback only",
        pactus_schema.pactus_config,
        {},
    )
    credential_set: bool = False  # whether the basicAuth secret is set; the credential itself stays a secret

    @property
    def name(self) -> str:
        """What clients dial and the certificate is for: the domain, or the IP address."""
        return self.domain or self.host

    @property
    def certificate_profile(self) -> str | None:
        """acmeProfile; for an IP-address certificate, the one profile it is issued under."""
        return self.acme_profile or (IP_ADDRESS_PROFILE if self.ip_address_certificate else None)

    @property
    def html_served(self) -> bool:
        """Pactus's debug pages server runs: asked for, or for the metrics it serves."""
        return self.html.enable or self.metrics.enable

    @property
    def wallet_routed(self) -> bool:
        """The proxy routes the wallet to someone, and the node serves it (`grpc.enable_wallet`)."""
        return self.expose_wallet or bool(self.wallet_networks)

    @property
    def dns_record(self) -> bool:
        """manageDns, for a node that has a name to publish."""
        return self.manage_dns and self.domain is not None
