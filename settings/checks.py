"""The checks of single values: each takes (key, value, problems), returns the value as the
program uses it, or adds one problem naming the fix and returns None. Nothing here knows
another key; rules between keys live in settings/parse.py."""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

from settings.problems import Problems
from settings.types import Listen

LETSENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
ACME_SERVER_ALIASES = {"production": LETSENCRYPT_PRODUCTION, "staging": LETSENCRYPT_STAGING}

DISTROS = ("auto", "debian", "redhat", "arch")

# Where a Pactus API may listen with `allowPrivateListen`: networks no internet client reaches.
PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))

# The config.toml sections `pactusConfig` may carry, their keys and types (schema/pactus-config.toml).
PACTUS_SCHEMA: Mapping[str, Any] = tomllib.loads(
    (Path(__file__).resolve().parent.parent / "schema" / "pactus-config.toml").read_text())
# The sections the program writes itself, from the keys of the same names.
MANAGED_SECTIONS = ("grpc", "jsonrpc", "http", "html")

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/@+-]*$")
_ROUTE = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")
_SSH_USER = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
_UNIT = re.compile(r"^[A-Za-z0-9:_.@-]+$")
_ZONE_ID = re.compile(r"^[0-9a-f]{32}$")
_SIZE = re.compile(r"^[1-9][0-9]{0,5}[km]?$")
_RESERVED_ROUTES = ("/pactus.", "/.well-known")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
_HOST_KEY = re.compile(r"(?:[^\s]+ )?((?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) [A-Za-z0-9+/]+={0,2})"
                       r"(?: [^\s]+)?")
_LONGEST = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_URL = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?")


def text(key: str, value: Any, problems: Problems) -> str | None:
    """Every string is taken whole: one with a control character (a newline would start a
    new line in a rendered file) or surrounding whitespace is refused, never trimmed."""
    if not isinstance(value, str):
        problems.add(key, value, "must be a string")
    elif _CONTROL.search(value) or value != value.strip():
        problems.add(key, value, "has a control character (newline, tab, NUL, ...) or surrounding spaces: "
                                 "remove them (`pulumi config set` takes the value as typed)")
    elif len(value) > _LONGEST:
        problems.add(key, f"{value[:40]}...", f"is {len(value)} characters long; no setting takes more than {_LONGEST}")
    else:
        return value
    return None


def boolean(key: str, value: Any, problems: Problems) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    problems.add(key, value, "must be true or false")
    return None


def hostname(key: str, value: Any, problems: Problems) -> str | None:
    given = text(key, value, problems)
    if given is None:
        return None
    name = given.lower().rstrip(".")
    if _is_ip(name):
        problems.add(key, value, "must be a DNS name, not an IP address: certificates are issued for names")
    elif "*" in name:
        problems.add(key, value, "must be one name, not a wildcard: HTTP-01 validation cannot issue wildcards")
    elif not name.isascii():
        problems.add(key, value, f"write an internationalised name in punycode: {name.encode('idna').decode()!r}"
                     if _idna_ok(name) else "is not a valid internationalised name")
    elif len(name) > 253 or "." not in name or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        problems.add(key, value, "must be a fully qualified hostname such as node1.example.com "
                                 "(labels of letters, digits and hyphens, 253 characters at most)")
    else:
        return name
    return None


def ssh_host(key: str, value: Any, problems: Problems) -> str | None:
    given = text(key, value, problems)
    if given is not None and _is_ip(given):
        return given
    return hostname(key, value, problems) if given is not None else None


def ipv4(key: str, value: Any, problems: Problems) -> str | None:
    given = text(key, value, problems)
    if given is None:
        return None
    try:
        return str(ipaddress.IPv4Address(given))
    except (ipaddress.AddressValueError, ValueError):
        problems.add(key, value, "must be the server's public IPv4 address, e.g. 203.0.113.10")
        return None


def ipv6(key: str, value: Any, problems: Problems) -> str | None:
    given = text(key, value, problems)
    if given is None:
        return None
    try:
        address = ipaddress.IPv6Address(given.strip("[]"))
    except (ipaddress.AddressValueError, ValueError):
        address = None
    if address is None or not address.is_global:
        problems.add(key, value, "must be the server's public IPv6 address, e.g. 2a01:4f8:c0c:1234::1 "
                                 "(global: not link-local, private or documentation), or unset for IPv4 only")
        return None
    return str(address)


def listen(key: str, value: Any, problems: Problems) -> Listen | None:
    """Loopback, or a private address (which parse_settings accepts only with allowPrivateListen)."""
    given = text(key, value, problems)
    if given is None:
        return None
    match = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:(\d+)|([^:\[\]]+):(\d+)", given)
    if not match:
        problems.add(key, value, "must be address:port, e.g. 127.0.0.1:50051")
        return None
    host = match.group(1) or match.group(3)
    number = port(key, match.group(2) or match.group(4), problems)
    if number is None:
        return None
    address = ipaddress.ip_address(host) if _is_ip(host) else None
    if host != "localhost" and not is_private(address) and not (address is not None and address.is_loopback):
        problems.add(key, value, "must stay on loopback (127.0.0.1 or [::1]): Nginx is the only public "
                                 "entry, a public or wildcard listen address exposes the node without TLS")
        return None
    if number in (80, 443):
        problems.add(key, value, "ports 80 and 443 belong to Nginx on this host: choose another port")
        return None
    return Listen(host, number)


def is_private(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
    return address is not None and any(address in network for network in PRIVATE_NETWORKS)


def optional_route(key: str, value: Any, problems: Problems) -> str | None:
    """A route, or "" for none."""
    return None if value == "" else route(key, value, problems)


def route(key: str, value: Any, problems: Problems) -> str | None:
    given = text(key, value, problems)
    if given is None:
        return None
    if not _ROUTE.fullmatch(given) or any(segment in (".", "..") for segment in given.split("/")):
        problems.add(key, value, "must be an absolute URL path like /jsonrpc: segments of letters, digits "
                                 "and . _ ~ - (not . or .. alone, which no request path keeps), no trailing "
                                 "slash, no spaces, quotes or regex characters")
        return None
    if given.startswith(_RESERVED_ROUTES):
        problems.add(key, value, "collides with the gRPC service paths (/pactus.*) or the ACME challenge "
                                 "path (/.well-known): choose another path")
        return None
    return given


def origins(key: str, value: Any, problems: Problems) -> tuple[str, ...] | None:
    """Origins, or "*" (which parse_settings accepts only with jsonrpc.allowAnyOrigin)."""
    if not isinstance(value, list):
        problems.add(key, value, "must be a list of origins, e.g. [\"https://wallet.example.com\"]")
        return None
    for item in value:
        if text(key, item, problems) is None:
            return None
        if item != "*" and (not _ORIGIN.fullmatch(item) or urlunsplit(urlsplit(item)) != item):
            problems.add(key, item, "each origin must be scheme://host[:port] with http or https and "
                                    "nothing after it, e.g. https://wallet.example.com")
            return None
    return tuple(value)


def acme_server(key: str, value: Any, problems: Problems) -> str | None:
    given = text(key, value, problems)
    if given is None:
        return None
    url = ACME_SERVER_ALIASES.get(given, given)
    if not _URL.fullmatch(url) or urlunsplit(urlsplit(url)) != url:
        problems.add(key, value, "must be `production`, `staging` or the https URL of an ACME directory "
                                 "(https://host[:port]/path: letters, digits and . _ ~ - / only)")
        return None
    return url


def _matching(pattern: re.Pattern[str], fix: str) -> Callable[[str, Any, Problems], str | None]:
    """A validator for strings of one pattern, with the fix to name when one does not match."""
    def convert(key: str, value: Any, problems: Problems) -> str | None:
        given = text(key, value, problems)
        if given is None:
            return None
        if pattern.fullmatch(given):
            return given
        problems.add(key, value, fix)
        return None
    return convert


email = _matching(_EMAIL, "must be an email address: Let's Encrypt sends expiry notices there")
distro = _matching(re.compile(f"^({'|'.join(DISTROS)})$"),
                    f"must be one of {', '.join(DISTROS)} (auto reads /etc/os-release on the host)")
ssh_user = _matching(_SSH_USER, "must be a Unix user name; a non-root user needs passwordless sudo")
unit = _matching(_UNIT, "must be a systemd unit name such as pactus.service")
zone_id = _matching(_ZONE_ID, "must be the zone's 32-character hex id from its Cloudflare overview page")


def whole(low: int, high: int, what: str) -> Callable[[str, Any, Problems], int | None]:
    """A validator for whole numbers from `low` to `high`; `what` they count, for the fix."""
    def convert(key: str, value: Any, problems: Problems) -> int | None:
        number = value if isinstance(value, int) and not isinstance(value, bool) else None
        if isinstance(value, str) and value.strip().isdigit():
            number = int(value)
        if number is None or not low <= number <= high:
            problems.add(key, value, f"must be {what} from {low} to {high}")
            return None
        return number
    return convert


def port(key: str, value: Any, problems: Problems) -> int | None:
    return whole(1, 65535, "a port number")(key, value, problems)


def size(key: str, value: Any, problems: Problems) -> str | None:
    given = str(value).strip().lower() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if _SIZE.fullmatch(given):
        return given
    problems.add(key, value, "must be a size in Nginx's syntax: bytes, or a number with k or m, e.g. 256k")
    return None


def ssh_host_key(key: str, value: Any, problems: Problems) -> str | None:
    """`type base64`, as in known_hosts; a host name before it (ssh-keyscan's lines) and a comment
    after it (a .pub file's) are dropped."""
    given = text(key, value, problems)
    if given is None:
        return None
    match = _HOST_KEY.fullmatch(given)
    if match is None:
        problems.add(key, value, "must be the server's public host key as `ssh-keyscan -t ed25519 <host>` prints it, "
                                 "e.g. ssh-ed25519 AAAAC3Nza...")
        return None
    return match.group(1)


def local_file(key: str, value: Any, problems: Problems) -> str | None:
    """A file on the machine that runs `pulumi up` (not on the host)."""
    given = text(key, value, problems)
    if given is not None and os.path.isfile(given):
        return given
    if given is not None:
        problems.add(key, value, "must be a PEM file on the machine that runs `pulumi up`; there is none there")
    return None


def absolute_path(key: str, value: Any, problems: Problems) -> str | None:
    given = text(key, value, problems)
    if given is None:
        return None
    if _SAFE_PATH.fullmatch(given) and "/../" not in given + "/":
        return given.rstrip("/") or "/"
    problems.add(key, value, "must be an absolute path on the host of letters, digits and . _ - / @ +")
    return None


def pactus_config(key: str, value: Any, problems: Problems) -> Mapping[str, Any] | None:
    """Sections of config.toml as Pactus decodes them: a key or type it would reject is refused here."""
    if not isinstance(value, Mapping):
        problems.add(key, value, "must be an object of config.toml sections, e.g. {node: {reward_addresses: [...]}}")
        return None
    for section, table in value.items():
        path = f"{key}.{section}"
        if section in MANAGED_SECTIONS:
            problems.add(path, table, f"is written from the key {section}: set `{section}` instead")
        elif section not in PACTUS_SCHEMA:
            problems.add(path, table, "is not a section of Pactus v1.16's config.toml; the sections are "
                                      f"{', '.join(PACTUS_SCHEMA)}")
        else:
            _check_table(path, table, PACTUS_SCHEMA[section], problems)
    return value


def _check_table(path: str, table: Any, schema: Mapping[str, Any], problems: Problems) -> None:
    if not isinstance(table, Mapping):
        problems.add(path, table, "must be a table of keys")
        return
    for name, item in table.items():
        expected = schema.get(name, schema.get("*"))
        if expected is None:
            problems.add(f"{path}.{name}", item, f"Pactus has no such key, and would set the whole file aside; "
                                                 f"the keys here are {', '.join(k for k in schema if k != '*')}")
        elif isinstance(expected, Mapping):
            _check_table(f"{path}.{name}", item, expected, problems)
        elif not _PACTUS_TYPES[expected](item):
            problems.add(f"{path}.{name}", item, f"must be {_PACTUS_TYPE_NAMES[expected]}, as Pactus reads it")
        elif path.endswith("zeromq") and name.startswith("zmqpub") and item and not _ZMQ_LOOPBACK.fullmatch(item):
            problems.add(f"{path}.{name}", item, "must be a tcp:// address on loopback, e.g. tcp://127.0.0.1:28332: "
                                                 "Nginx is the only public entry to the node")


_PACTUS_TYPES: dict[str, Callable[[Any], bool]] = {
    "bool": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "strings": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
}
_PACTUS_TYPE_NAMES = {"bool": "true or false", "integer": "a whole number", "float": "a number",
                      "string": "a string", "strings": "a list of strings"}
_ZMQ_LOOPBACK = re.compile(r"tcp://(127\.0\.0\.1|\[::1\]|localhost):\d{1,5}")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _idna_ok(name: str) -> bool:
    try:
        name.encode("idna")
        return True
    except UnicodeError:
        return False
