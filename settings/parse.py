"""Raw stack values in, `Settings` out: each key read and checked as settings/model.py declares
it, then the rules between keys. Every problem of a config is reported at once, one per key."""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import posixpath
from collections.abc import Collection, Mapping
from typing import Any, get_type_hints

from settings import checks
from settings.checks import MANAGED_SECTIONS
from settings.model import REQUIRED, Settings, camel
from settings.problems import Problems, SettingsError
from settings.secrets import (
    BASIC_AUTH,
    CLOUDFLARE_TOKEN,
    NAMESPACED,
    SSH_PRIVATE_KEY,
    check_basic_auth,
    check_ssh_private_key,
)
from settings.types import Listen

_PATHS = {"grpc": "path_prefix", "jsonrpc": "path", "http": "base_path"}  # the proxied APIs' public paths


@functools.cache
def keys(cls: type = Settings) -> dict[str, dataclasses.Field]:
    """The config keys of a settings class, by their config names."""
    return {camel(f.name): f for f in dataclasses.fields(cls) if "setting" in f.metadata}


@functools.cache
def object_keys() -> frozenset[str]:
    """The keys whose values are objects (or lists): the stack file holds them as JSON."""
    return frozenset(
        key
        for key, field in keys().items()
        if field.metadata["setting"].check is None or isinstance(field.metadata["setting"].default, (dict, list))
    )


def parse_settings(
    raw: Mapping[str, Any],
    *,
    stack: str,
    secrets: Mapping[str, str],
    hidden: Collection[str] = (),
    plain_secrets: Collection[str] = (),
) -> Settings:
    """Turn raw stack values into Settings, or raise SettingsError naming every problem.

    `raw`: the values set in the namespace, strings as `pulumi config set` stores them or
    objects. `secrets`: the secrets that are set (settings/secrets.py), read here only to
    check their shape. `hidden`: keys set with --secret, whose values a problem never shows.
    `plain_secrets`: secrets outside the namespace (cloudflare:apiToken) set without --secret."""
    problems = Problems({*hidden, *NAMESPACED, CLOUDFLARE_TOKEN.name})
    for name in sorted(plain_secrets):
        problems.add(
            name,
            name,
            f"set in plain text, so it sits unencrypted in the stack file and the state: "
            f"`pulumi config rm {name}`, then `pulumi config set --secret {name} <value>`",
            outside_namespace=True,
        )
    values = {k: v for k, v in raw.items() if v is not None and v != ""}
    known = keys()
    for key in sorted(set(values) - set(known)):
        problems.add(
            key,
            values[key],
            f"holds a secret: set it with `pulumi config set --secret {key}`"
            if key in NAMESPACED
            else f"unknown key; the keys are {', '.join(sorted([*known, *NAMESPACED]))}",
        )
    if SSH_PRIVATE_KEY.name not in values:  # set in plain text: reported above as such
        check_ssh_private_key(secrets.get(SSH_PRIVATE_KEY.name), problems)
    check_basic_auth(secrets.get(BASIC_AUTH.name), problems)

    settings = Settings(
        stack=stack, basic_auth=secrets.get(BASIC_AUTH.name) is not None, **_read(Settings, values, "", problems)
    )
    settings = dataclasses.replace(settings, ssh_host=settings.ssh_host or settings.host)
    _check_rules(settings, secrets, problems)
    if problems.items:
        raise SettingsError(problems.items)
    return settings


def _read(cls: type, given: Mapping[str, Any], prefix: str, problems: Problems) -> dict[str, Any]:
    """The fields of `cls` from `given`, each checked; a section becomes its own class."""
    types = get_type_hints(cls)
    read: dict[str, Any] = {}
    for key, field in keys(cls).items():
        spec, path = field.metadata["setting"], prefix + key
        value = given.get(key)
        if spec.check is None:
            section = types[field.name]
            if value is None:
                value = {}
            elif not isinstance(value, Mapping):
                problems.add(
                    path,
                    value,
                    f"must be an object with the fields {', '.join(keys(section))}, "
                    f"e.g. `pulumi config set --path {path}.{next(iter(keys(section)))} <value>`",
                )
                value = {}
            for unknown in sorted(set(value) - set(keys(section))):
                problems.add(
                    f"{path}.{unknown}", value[unknown], f"unknown field; {path} has {', '.join(keys(section))}"
                )
            read[field.name] = section(**_read(section, value, f"{path}.", problems))
            continue
        if value is None:
            value = spec.default
        if value is REQUIRED:
            problems.add(path, None, f"required: `pulumi config set {path} <value>`")
            value = None
        read[field.name] = None if value is None else spec.check(path, value, problems)
    return read


def _check_rules(settings: Settings, secrets: Mapping[str, str], problems: Problems) -> None:
    """The rules between keys (a key that already has a problem gets no second one)."""
    if settings.manage_dns:
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
    apis = {name: getattr(settings, name) for name in MANAGED_SECTIONS}
    for name, api in apis.items():
        if api.listen is not None and _is_private(api.listen) and settings.allow_private_listen is False:
            problems.add(
                f"{name}.listen",
                str(api.listen),
                "is a private address: keep Pactus on loopback (127.0.0.1 or [::1]), or set "
                "allowPrivateListen true if only this host's private network reaches it",
            )
    if settings.jsonrpc.origins and "*" in settings.jsonrpc.origins and settings.jsonrpc.allow_any_origin is False:
        problems.add(
            "jsonrpc.origins",
            "*",
            "lets any web page call the node from its visitors' browsers: list the "
            "origins, or set jsonrpc.allowAnyOrigin true to mean it",
        )
    if settings.grpc.basic_auth and not settings.basic_auth:
        problems.add(
            "grpc.basicAuth",
            True,
            "needs the credential: `pulumi config set --secret basicAuth "
            '"$(htpasswd -nB <user>)"`, or grpc.basicAuth false',
        )

    enabled = {name: apis[name] for name in _PATHS if apis[name].enable}
    if not enabled and not any(problems.has(f"{name}.enable") for name in _PATHS):
        problems.add(
            "grpc.enable",
            False,
            "no API is enabled, so there is nothing to proxy: enable at least one of grpc, jsonrpc, http",
        )
    _check_own_ports({name: api for name, api in apis.items() if api.enable}, problems)
    paths = [(f"{name}.{camel(_PATHS[name])}", getattr(api, _PATHS[name])) for name, api in enabled.items()]
    paths = [(key, path) for key, path in paths if path]
    for index, (key, a) in enumerate(paths):
        for other, b in paths[index + 1 :]:
            if a == b or a.startswith(b + "/") or b.startswith(a + "/"):
                problems.add(key, a, f"overlaps {other} {b!r}: give each API its own path")

    if settings.expose_wallet and not settings.grpc.enable:
        problems.add(
            "exposeWallet", True, "the Wallet service is served by gRPC: set grpc.enable true, or exposeWallet false"
        )
    elif settings.expose_wallet and not (settings.grpc.basic_auth and settings.basic_auth):
        problems.add(
            "exposeWallet",
            True,
            "would let anyone create, restore and spend from the node's wallets: it needs the credential, "
            "checked by the node on gRPC and by Nginx on JSON-RPC and the HTTP-API: set basicAuth (--secret) "
            "and grpc.basicAuth true, or exposeWallet false",
        )
    if settings.grpc.enable is False and (settings.jsonrpc.enable or settings.http.enable):
        problems.add(
            "grpc.enable",
            False,
            "JSON-RPC and the HTTP-API reach Pactus through its gRPC server: keep grpc.enable true",
        )
    _check_public_host(settings, problems)
    if settings.html.enable_pprof and settings.html.listen is not None and not _is_loopback(settings.html.listen):
        problems.add(
            "html.listen",
            str(settings.html.listen),
            "serves Go's profiler (html.enablePprof), which stays on loopback (127.0.0.1 or [::1]) always",
        )
    _check_node_paths(settings, problems)
    if settings.firewall:
        _check_p2p_ports(settings, problems)


def _check_own_ports(enabled: Mapping[str, Any], problems: Problems) -> None:
    """Each enabled API, the debug pages among them, on a port of its own."""
    seen: dict[int, str] = {}
    for name, api in enabled.items():
        if api.listen is None:
            continue
        if api.listen.port in seen:
            problems.add(
                f"{name}.listen",
                str(api.listen),
                f"{seen[api.listen.port]} listens on port {api.listen.port} too: give each API its own port",
            )
        else:
            seen[api.listen.port] = name


def _check_public_host(settings: Settings, problems: Problems) -> None:
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


# Paths in pactusConfig that Pactus opens for writing, as the node's user (root by default).
_NODE_PATHS = (("logger", "filename"), ("store", "path"), ("network", "network_key"))


def _check_node_paths(settings: Settings, problems: Problems) -> None:
    """They stay inside pactusDir: a node run as root could be told to write anywhere."""
    for section, name in _NODE_PATHS:
        value = (
            settings.pactus_config.get(section, {}).get(name)
            if isinstance(settings.pactus_config.get(section), Mapping)
            else None
        )
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


def _check_p2p_ports(settings: Settings, problems: Problems) -> None:
    """The firewall opens the ports of [network] listen_addrs: each must be one."""
    network = settings.pactus_config.get("network", {})
    for address in (network.get("listen_addrs") or []) if isinstance(network, Mapping) else []:
        for port in checks.MULTIADDR_PORT.findall(address):
            if not 1 <= int(port[1]) <= 65535:
                problems.add(
                    "pactusConfig.network.listen_addrs",
                    address,
                    f"names port {port[1]}, which the firewall cannot open: ports go from 1 to 65535",
                )


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
