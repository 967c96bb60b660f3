"""The rules between keys, one small function each, run in the order of RULES. Each gets the
parsed Settings (a key that already has a problem holds None, so it gets no second one), the
secrets that are set, and adds problems naming the fix."""

from __future__ import annotations

import ipaddress
import posixpath
from collections.abc import Callable, Mapping

from settings import checks
from settings.constants import (
    IP_ADDRESS_PROFILE,
    LETSENCRYPT_PRODUCTION,
    LETSENCRYPT_STAGING,
    MANAGED_SECTIONS,
    MULTIADDR_PORT,
)
from settings.model import Settings, camel
from settings.problems import Problems
from settings.secrets import CLOUDFLARE_TOKEN
from settings.types import Listen

Rule = Callable[[Settings, Mapping[str, str], Problems], None]
# The proxied routes' public paths.
_PATHS = {"grpc": "path_prefix", "jsonrpc": "path", "http": "base_path", "metrics": "path"}
# Paths in pactusConfig that Pactus opens for writing, as the node's user (root by default).
_NODE_PATHS = (("logger", "filename"), ("store", "path"), ("network", "network_key"))


def check_rules(settings: Settings, secrets: Mapping[str, str], problems: Problems) -> None:
    for rule in RULES:
        rule(settings, secrets, problems)


def a_node_has_a_domain_or_an_ip_address_certificate(
    settings: Settings, _: Mapping[str, str], problems: Problems
) -> None:
    if settings.domain is None and settings.ip_address_certificate is False:
        problems.add(
            "domain",
            None,
            "required: `pulumi config set domain <the node's name>`, or `pulumi config set ipAddressCertificate "
            "true` for a certificate for host, the IP address, with no DNS name",
        )
    elif settings.domain is not None and settings.ip_address_certificate:
        problems.add(
            "ipAddressCertificate",
            True,
            f"is for a node without a domain, but domain is {settings.domain}: unset one of them",
        )


def an_ip_address_node_has_no_dns_name_and_one_address(
    settings: Settings, _: Mapping[str, str], problems: Problems
) -> None:
    if not settings.ip_address_certificate:
        return
    if settings.cloudflare_zone_id is not None:
        problems.add(
            "cloudflareZoneId",
            settings.cloudflare_zone_id,
            "a node without a domain gets no DNS record: unset cloudflareZoneId",
        )
    if settings.host_ipv6 is not None:
        problems.add(
            "hostIpv6",
            settings.host_ipv6,
            "an IP-address certificate is for host, the IPv4 address, alone: unset hostIpv6",
        )


def lets_encrypt_issues_ip_addresses_under_shortlived(
    settings: Settings, _: Mapping[str, str], problems: Problems
) -> None:
    if (
        settings.ip_address_certificate
        and settings.acme_server in (LETSENCRYPT_PRODUCTION, LETSENCRYPT_STAGING)
        and settings.certificate_profile != IP_ADDRESS_PROFILE
    ):
        problems.add(
            "acmeProfile",
            settings.acme_profile,
            f"Let's Encrypt issues IP-address certificates under the {IP_ADDRESS_PROFILE} profile only: "
            "unset acmeProfile (it then is shortlived)",
        )


def dns_needs_its_zone_and_token(settings: Settings, secrets: Mapping[str, str], problems: Problems) -> None:
    if not settings.dns_record:
        return
    if settings.cloudflare_zone_id is None:
        problems.add(
            "cloudflareZoneId",
            None,
            "required while manageDns is true: the zone id from the domain's Cloudflare overview page, "
            "or `pulumi config set manageDns false` if the A record is managed elsewhere",
        )
    if not secrets.get(CLOUDFLARE_TOKEN.name):
        problems.add(
            CLOUDFLARE_TOKEN.name,
            None,
            "required while manageDns is true: `pulumi config set --secret cloudflare:apiToken "
            "<token with DNS edit on the zone>`",
            outside_namespace=True,
        )


def apis_listen_privately_only_when_allowed(settings: Settings, _: Mapping[str, str], problems: Problems) -> None:
    for name, api in _apis(settings).items():
        if api.listen is not None and _is_private(api.listen) and settings.allow_private_listen is False:
            problems.add(
                f"{name}.listen",
                str(api.listen),
                "is a private address: keep Pactus on loopback (127.0.0.1 or [::1]), or set "
                "allowPrivateListen true if only this host's private network reaches it",
            )


def any_origin_is_meant(settings: Settings, _: Mapping[str, str], problems: Problems) -> None:
    if settings.jsonrpc.origins and "*" in settings.jsonrpc.origins and settings.jsonrpc.allow_any_origin is False:
        problems.add(
            "jsonrpc.origins",
            "*",
            "lets any web page call the node from its visitors' browsers: list the "
            "origins, or set jsonrpc.allowAnyOrigin true to mean it",
        )


def the_http_api_answers_any_origin_only_when_meant(
    settings: Settings, _: Mapping[str, str], problems: Problems
) -> None:
    if settings.http.enable_cors and settings.http.allow_any_origin is False:
        problems.add(
            "http.enableCors",
            True,
            "Pactus answers CORS on the HTTP-API for every origin (it echoes the request's Origin), so any web "
            "page could call the node from its visitors' browsers: set http.allowAnyOrigin true to mean it, "
            "or http.enableCors false",
        )


def grpc_basic_auth_has_the_credential(settings: Settings, _: Mapping[str, str], problems: Problems) -> None:
    if settings.grpc.basic_auth and not settings.credential_set:
        problems.add(
            "grpc.basicAuth",
            True,
            "needs the credential: `pulumi config set --secret basicAuth "
            '"$(htpasswd -nB <user>)"`, or grpc.basicAuth false',
        )


def some_api_is_enabled(settings: Settings, _: Mapping[str, str], problems: Problems) -> None:
    apis = [name for name in _PATHS if name != "metrics"]
    if not set(_proxied(settings)) & set(apis) and not any(problems.has(f"{name}.enable") for name in apis):
        problems.add(
            "grpc.enable",
            False,
            "no API is enabled, so there is nothing to proxy: enable at least one of grpc, jsonrpc, http",
        )


def each_api_has_its_own_port(settings: Settings, _: Mapping[str, str], problems: Problems) -> None:
    """Each enabled API, the debug pages among them, on a port of its own."""
    seen: dict[int, str] = {}
    for name, api in _apis(settings).items():
        served = settings.html_served if name == "html" else api.enable
        if not served or api.listen is None:
            continue
        if api.listen.port in seen:
            problems.add(
                f"{name}.listen",
                str(api.listen),
                f"{seen[api.listen.port]} listens on port {api.listen.port} too: give each API its own port",
            )
        else:
            seen[api.listen.port] = name


def each_api_has_its_own_path(settings: Settings, _: Mapping[str, str], problems: Problems) -> None:
    paths = [(f"{name}.{camel(_PATHS[name])}", getattr(api, _PATHS[name])) for name, api in _proxied(settings).items()]
    paths = [(key, path) for key, path in paths if path]
    for index, (key, a) in enumerate(paths):
        for other, b in paths[index + 1 :]:
            if a == b or a.startswith(b + "/") or b.startswith(a + "/"):
                problems.add(key, a, f"overlaps {other} {b!r}: give each API its own path")


def the_wallet_has_grpc_and_the_credential(settings: Settings, _: Mapping[str, str], problems: Problems) -> None:
    if settings.expose_wallet and not settings.grpc.enable:
        problems.add(
            "exposeWallet", True, "the Wallet service is served by gRPC: set grpc.enable true, or exposeWallet false"
        )
    elif settings.expose_wallet and not (settings.grpc.basic_auth and settings.credential_set):
        problems.add(
            "exposeWallet",
            True,
            "would let anyone create, restore and spend from the node's wallets: it needs the credential, "
            "checked by the node on gRPC and by Nginx on JSON-RPC and the HTTP-API: set basicAuth (--secret) "
            "and grpc.basicAuth true, or exposeWallet false",
        )


def the_wallets_networks_have_grpc(settings: Settings, _: Mapping[str, str], problems: Problems) -> None:
    if settings.wallet_networks and not settings.grpc.enable:
        problems.add(
            "walletNetworks",
            list(settings.wallet_networks),
            "the wallet is served by gRPC: set grpc.enable true, or walletNetworks []",
        )


def http_apis_have_grpc(settings: Settings, _: Mapping[str, str], problems: Problems) -> None:
    if settings.grpc.enable is False and (settings.jsonrpc.enable or settings.http.enable):
        problems.add(
            "grpc.enable",
            False,
            "JSON-RPC and the HTTP-API reach Pactus through its gRPC server: keep grpc.enable true",
        )


def the_host_is_public_unless_allowed(settings: Settings, _: Mapping[str, str], problems: Problems) -> None:
    if settings.allow_private_host:
        return
    for key, address in (("host", settings.host), ("hostIpv6", settings.host_ipv6)):
        if address is not None and not checks.is_public(ipaddress.ip_address(address)):
            problems.add(
                key,
                address,
                "is not a public address (loopback, private, link-local or reserved): the DNS record would "
                "publish it, and sshHost defaults to it, so the root scripts would go to whatever answers "
                "there, perhaps the machine running pulumi. Give the server's public address, or set "
                "allowPrivateHost true for a private network or a test host",
            )


def the_profiler_stays_on_loopback(settings: Settings, _: Mapping[str, str], problems: Problems) -> None:
    if settings.html.enable_pprof and settings.html.listen is not None and not _is_loopback(settings.html.listen):
        problems.add(
            "html.listen",
            str(settings.html.listen),
            "serves Go's profiler (html.enablePprof), which stays on loopback (127.0.0.1 or [::1]) always",
        )


def node_paths_stay_in_pactus_dir(settings: Settings, _: Mapping[str, str], problems: Problems) -> None:
    """A node run as root could otherwise be told to write anywhere."""
    if settings.pactus_config is None or settings.pactus_dir is None:
        return
    for section, name in _NODE_PATHS:
        table = settings.pactus_config.get(section)
        value = table.get(name) if isinstance(table, Mapping) else None
        if not isinstance(value, str) or value == "":
            continue
        inside = posixpath.normpath(posixpath.join(settings.pactus_dir, value))
        if ".." in value.split("/") or not inside.startswith(settings.pactus_dir.rstrip("/") + "/"):
            problems.add(
                f"pactusConfig.{section}.{name}",
                value,
                f"must stay inside pactusDir ({settings.pactus_dir}): a path relative to it, without .., "
                "or an absolute one under it; the node writes there",
            )


def the_firewall_can_open_the_p2p_ports(settings: Settings, _: Mapping[str, str], problems: Problems) -> None:
    """The firewall opens the ports of [network] listen_addrs: each must be one."""
    if settings.pactus_config is None:
        return
    network = settings.pactus_config.get("network", {})
    if not settings.firewall or not isinstance(network, Mapping):
        return
    for address in network.get("listen_addrs") or []:
        for port in MULTIADDR_PORT.findall(address):
            if not 1 <= int(port[1]) <= 65535:
                problems.add(
                    "pactusConfig.network.listen_addrs",
                    address,
                    f"names port {port[1]}, which the firewall cannot open: ports go from 1 to 65535",
                )


def the_metrics_have_a_gate(settings: Settings, _: Mapping[str, str], problems: Problems) -> None:
    """The metrics tell the node's load and peers: never to the whole internet."""
    if settings.metrics.enable and not (settings.metrics.scrapers or settings.credential_set):
        problems.add(
            "metrics.enable",
            True,
            "would serve the node's metrics to every address: list your Prometheus's networks in "
            "metrics.scrapers, or set the basicAuth secret (--secret) for it to send, or both",
        )


RULES: tuple[Rule, ...] = (
    a_node_has_a_domain_or_an_ip_address_certificate,
    an_ip_address_node_has_no_dns_name_and_one_address,
    lets_encrypt_issues_ip_addresses_under_shortlived,
    dns_needs_its_zone_and_token,
    apis_listen_privately_only_when_allowed,
    any_origin_is_meant,
    the_http_api_answers_any_origin_only_when_meant,
    grpc_basic_auth_has_the_credential,
    some_api_is_enabled,
    each_api_has_its_own_port,
    each_api_has_its_own_path,
    the_wallet_has_grpc_and_the_credential,
    the_wallets_networks_have_grpc,
    http_apis_have_grpc,
    the_host_is_public_unless_allowed,
    the_profiler_stays_on_loopback,
    the_metrics_have_a_gate,
    node_paths_stay_in_pactus_dir,
    the_firewall_can_open_the_p2p_ports,
)


def _apis(settings: Settings) -> dict:
    return {name: getattr(settings, name) for name in MANAGED_SECTIONS}


def _proxied(settings: Settings) -> dict:
    """The enabled routes that Nginx proxies (of the debug pages, the metrics alone)."""
    return {name: getattr(settings, name) for name in _PATHS if getattr(settings, name).enable}


def _is_loopback(listen: Listen) -> bool:
    try:
        return ipaddress.ip_address(listen.host).is_loopback
    except ValueError:
        return listen.host == "localhost"


def _is_private(listen: Listen) -> bool:
    try:
        return checks.is_private(ipaddress.ip_address(listen.host))
    except ValueError:
        return False  # localhost
