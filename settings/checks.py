"""The checks of single values: each takes (key, value, problems), returns the value as the
program uses it, or adds one problem naming the fix and returns None. Nothing here knows
another key; rules between keys live in settings/rules.py."""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import os
import re
import socket
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from settings.constants import (
    ACME_SERVER_ALIASES,
    CERTBOT_SOURCES,
    CERTBOT_VENV,
    CERTBOT_VENV_PREVIOUS,
    CERTBOT_VENVS,
    DISTROS,
    PRIVATE_NETWORKS,
    PROGRAM_DIR,
)
from settings.problems import Problems
from settings.types import Listen

T = TypeVar("T")

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_EMAIL = re.compile(r"^(?!-)[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/@+-]*$")
_ROUTE = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")
_SSH_USER = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
_UNIT = re.compile(r"^(?!-)[A-Za-z0-9:_.@-]+$")  # never an option: systemctl would take -H... as one
_ZONE_ID = re.compile(r"^[0-9a-f]{32}$")
_PROFILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # as the ACME directory's meta lists them
_SIZE = re.compile(r"^[1-9][0-9]{0,5}[km]?$")
_RESERVED_ROUTES = ("/pactus.", "/.well-known")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
_HOST_KEY = re.compile(
    r"(?:[^\s]+ )?((?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) [A-Za-z0-9+/]+={0,2})"
    r"(?: [^\s]+)?"
)
_LONGEST = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_URL = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?")


def text(key: str, value: Any, problems: Problems) -> str | None:
    """Every string is taken whole: one with a control character (a newline would start a
    new line in a rendered file) or surrounding whitespace is refused, never trimmed."""
    if not isinstance(value, str):
        problems.add(key, value, "must be a string")
    elif _CONTROL.search(value) or value != value.strip():
        problems.add(
            key,
            value,
            "has a control character (newline, tab, NUL, ...) or surrounding spaces: "
            "remove them (`pulumi config set` takes the value as typed)",
        )
    elif len(value) > _LONGEST:
        problems.add(key, f"{value[:40]}...", f"is {len(value)} characters long; no setting takes more than {_LONGEST}")
    else:
        return value
    return None


def textual(check: Callable[[str, str, Problems], T | None]) -> Callable[[str, Any, Problems], T | None]:
    """A check of a string setting, given the string only once `text` has taken it."""

    @functools.wraps(check)
    def convert(key: str, value: Any, problems: Problems) -> T | None:
        given = text(key, value, problems)
        return None if given is None else check(key, given, problems)

    return convert


def boolean(key: str, value: Any, problems: Problems) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    problems.add(key, value, "must be true or false")
    return None


@textual
def hostname(key: str, given: str, problems: Problems) -> str | None:
    name = given.lower().rstrip(".")
    if _is_ip(name) or _is_numeric_address(name):
        problems.add(
            key,
            given,
            "must be a DNS name, not an IP address (127.1 and 0x7f.0.0.1 are ones too, to "
            "the host's resolver): certificates are issued for names",
        )
    elif "*" in name:
        problems.add(key, given, "must be one name, not a wildcard: HTTP-01 validation cannot issue wildcards")
    elif not name.isascii():
        problems.add(
            key,
            given,
            f"write an internationalised name in punycode: {name.encode('idna').decode()!r}"
            if _idna_ok(name)
            else "is not a valid internationalised name",
        )
    elif len(name) > 253 or "." not in name or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        problems.add(
            key,
            given,
            "must be a fully qualified hostname such as node1.example.com "
            "(labels of letters, digits and hyphens, 253 characters at most)",
        )
    else:
        return name
    return None


@textual
def ssh_host(key: str, given: str, problems: Problems) -> str | None:
    if "%" in given:
        problems.add(key, given, _SCOPE_ID)
        return None
    return given if _is_ip(given) else hostname(key, given, problems)


_SCOPE_ID = (
    "has an IPv6 scope id (`%...`), which means nothing outside one machine's link: give an address "
    "without it, or a name"
)


@textual
def ipv4(key: str, given: str, problems: Problems) -> str | None:
    """Any IPv4 address; the rules (rules.py) accept a non-public one only with allowPrivateHost."""
    try:
        return _unicast(key, ipaddress.IPv4Address(given), problems)
    except (ipaddress.AddressValueError, ValueError):
        problems.add(key, given, "must be the server's public IPv4 address, e.g. 203.0.113.10")
        return None


def _unicast(key: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address, problems: Problems) -> str | None:
    """A multicast address names a group, not a server, even on a private network."""
    if address.is_multicast:
        problems.add(
            key, str(address), "is a multicast address, which no server answers SSH or HTTPS on: give the server's own"
        )
        return None
    return str(address)


@textual
def ipv6(key: str, given: str, problems: Problems) -> str | None:
    """Any IPv6 address; the rules (rules.py) accept a non-global one only with allowPrivateHost."""
    if "%" in given:
        problems.add(key, given, _SCOPE_ID)
        return None
    try:
        return _unicast(key, ipaddress.IPv6Address(given.strip("[]")), problems)
    except (ipaddress.AddressValueError, ValueError):
        problems.add(
            key, given, "must be the server's public IPv6 address, e.g. 2a01:4f8:c0c:1234::1, or unset for IPv4 only"
        )
        return None


@textual
def listen(key: str, given: str, problems: Problems) -> Listen | None:
    """Loopback, or a private address (which the rules in rules.py accept only with allowPrivateListen)."""
    match = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:(\d+)|([^:\[\]]+):(\d+)", given)
    if not match:
        problems.add(key, given, "must be address:port, e.g. 127.0.0.1:50051")
        return None
    host = match.group(1) or match.group(3)
    number = port(key, match.group(2) or match.group(4), problems)
    if number is None:
        return None
    address = ipaddress.ip_address(host) if _is_ip(host) else None
    if host != "localhost" and not is_private(address) and not (address is not None and address.is_loopback):
        problems.add(
            key,
            given,
            "must stay on loopback (127.0.0.1 or [::1]): Nginx is the only public "
            "entry, a public or wildcard listen address exposes the node without TLS",
        )
        return None
    if number in (80, 443):
        problems.add(key, given, "ports 80 and 443 belong to Nginx on this host: choose another port")
        return None
    return Listen(host, number)


# Documentation ranges (RFC 5737, RFC 3849) lead to no machine: examples use them, and a
# record or an SSH session naming one reaches nobody.
_DOCUMENTATION = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Reachable from the internet: not loopback, private, link-local, shared, reserved, ..."""
    return address.is_global or any(address in network for network in _DOCUMENTATION)


def is_private(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
    return address is not None and any(address in network for network in PRIVATE_NETWORKS)


# The widest client network the wallet may be routed to: a site's, never the internet's.
WIDEST_CLIENT_NETWORK = {4: 16, 6: 48}


def client_networks(key: str, value: Any, problems: Problems) -> tuple[str, ...] | None:
    """Networks in CIDR (an address alone is one host), each at most a /16 or an IPv6 /48."""
    if not isinstance(value, list):
        problems.add(key, value, 'must be a list of networks in CIDR, e.g. ["203.0.113.0/24"]')
        return None
    for item in value:
        if text(key, item, problems) is None:
            return None
        try:
            network = ipaddress.ip_network(item)
        except ValueError as error:
            problems.add(key, item, f"is no network in CIDR ({error}), e.g. 203.0.113.0/24 or 2001:db8:5::/48")
            return None
        widest = WIDEST_CLIENT_NETWORK[network.version]
        if network.prefixlen < widest:
            problems.add(
                key,
                item,
                f"is wider than a /{widest}: what it guards would be open to a large part of the internet; "
                "list the networks of the clients that use it",
            )
            return None
    return tuple(value)


def optional_route(key: str, value: Any, problems: Problems) -> str | None:
    """A route, or "" for none."""
    return None if value == "" else route(key, value, problems)


@textual
def route(key: str, given: str, problems: Problems) -> str | None:
    if not _ROUTE.fullmatch(given) or any(segment in (".", "..") for segment in given.split("/")):
        problems.add(
            key,
            given,
            "must be an absolute URL path like /jsonrpc: segments of letters, digits "
            "and . _ ~ - (not . or .. alone, which no request path keeps), no trailing "
            "slash, no spaces, quotes or regex characters",
        )
        return None
    if given.startswith(_RESERVED_ROUTES):
        problems.add(
            key,
            given,
            "collides with the gRPC service paths (/pactus.*) or the ACME challenge "
            "path (/.well-known): choose another path",
        )
        return None
    return given


def origins(key: str, value: Any, problems: Problems) -> tuple[str, ...] | None:
    """Origins, or "*" (which the rules in rules.py accept only with jsonrpc.allowAnyOrigin)."""
    if not isinstance(value, list):
        problems.add(key, value, 'must be a list of origins, e.g. ["https://wallet.example.com"]')
        return None
    for item in value:
        if text(key, item, problems) is None:
            return None
        if item != "*" and (not _ORIGIN.fullmatch(item) or urlunsplit(urlsplit(item)) != item):
            problems.add(
                key,
                item,
                "each origin must be scheme://host[:port] with http or https and "
                "nothing after it, e.g. https://wallet.example.com",
            )
            return None
    return tuple(value)


@textual
def acme_server(key: str, given: str, problems: Problems) -> str | None:
    """The directory URL; Let's Encrypt's however it is spelt (case, `:443`, a trailing dot or
    slash) becomes its one URL, so that every rule about Let's Encrypt applies to it."""
    url = ACME_SERVER_ALIASES.get(given, given)
    if not _URL.fullmatch(url) or urlunsplit(urlsplit(url)) != url:
        problems.add(
            key,
            given,
            "must be `production`, `staging` or the https URL of an ACME directory "
            "(https://host[:port]/path: letters, digits and . _ ~ - / only)",
        )
        return None
    return next((known for known in ACME_SERVER_ALIASES.values() if _same_url(known, url)), url)


def _same_url(known: str, url: str) -> bool:
    """Whether an https URL names the same resource as `known`, spelt otherwise."""

    def normalised(text: str) -> tuple[str, str]:
        parts = urlsplit(text)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port if parts.port not in (None, 443) else ""
        return f"{host}:{port}", parts.path.rstrip("/")

    try:
        return normalised(known) == normalised(url)
    except ValueError:  # a port past 65535: not Let's Encrypt's
        return False


def _matching(pattern: re.Pattern[str], fix: str) -> Callable[[str, Any, Problems], str | None]:
    """A validator for strings of one pattern, with the fix to name when one does not match."""

    @textual
    def convert(key: str, given: str, problems: Problems) -> str | None:
        if pattern.fullmatch(given):
            return given
        problems.add(key, given, fix)
        return None

    return convert


email = _matching(_EMAIL, "must be an email address, not starting with -: the ACME account's contact")
distro = _matching(
    re.compile(f"^({'|'.join(DISTROS)})$"),
    f"must be one of {', '.join(DISTROS)} (`auto` reads /etc/os-release on the host)",
)
certbot_source = _matching(
    re.compile(f"^({'|'.join(CERTBOT_SOURCES)})$"),
    f"must be one of {', '.join(CERTBOT_SOURCES)}: the distribution's certbot, certbot from PyPI, "
    "or `auto`, the distribution's where it can do what the stack asks",
)
ssh_user = _matching(_SSH_USER, "must be a Unix user name; a non-root user needs passwordless sudo")
unit = _matching(
    _UNIT, "must be a systemd unit name such as pactus.service (letters, digits and : _ . @ -, not starting with -)"
)
acme_profile = _matching(
    _PROFILE, "must be a profile name the ACME server offers, e.g. tlsserver (letters, digits and . _ -)"
)
zone_id = _matching(_ZONE_ID, "must be the zone's 32-character hex id from its Cloudflare overview page")


def whole(low: int, high: int, what: str) -> Callable[[str, Any, Problems], int | None]:
    """A validator for whole numbers from `low` to `high`; `what` they count, for the fix."""

    def convert(key: str, value: Any, problems: Problems) -> int | None:
        number = value if isinstance(value, int) and not isinstance(value, bool) else None
        if isinstance(value, str) and re.fullmatch(r"[0-9]{1,9}", value.strip()):  # not "²", which isdigit takes
            number = int(value)
        if number is None or not low <= number <= high:
            problems.add(key, value, f"must be {what} from {low} to {high}")
            return None
        return number

    return convert


def port(key: str, value: Any, problems: Problems) -> int | None:
    return whole(1, 65535, "a port number")(key, value, problems)


def size_up_to(ceiling: str, why: str) -> Callable[[str, Any, Problems], str | None]:
    """A validator for sizes in Nginx's syntax (bytes, or a number with k or m) up to `ceiling`."""

    def convert(key: str, value: Any, problems: Problems) -> str | None:
        given = str(value).strip().lower() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
        if not _SIZE.fullmatch(given):
            problems.add(key, value, "must be a size in Nginx's syntax: bytes, or a number with k or m, e.g. 256k")
        elif _bytes(given) > _bytes(ceiling):
            problems.add(key, value, f"is above {ceiling}, the most this route takes: {why}")
        else:
            return given
        return None

    return convert


def _bytes(size: str) -> int:
    return int(size.rstrip("km")) * {"k": 1024, "m": 1024**2}.get(size[-1], 1)


@textual
def ssh_host_key(key: str, given: str, problems: Problems) -> str | None:
    """`type base64`, as in known_hosts; a host name before it (ssh-keyscan's lines) and a comment
    after it (a .pub file's) are dropped."""
    match = _HOST_KEY.fullmatch(given)
    if match is None or not _decodes_as(match.group(1)):
        problems.add(
            key,
            given,
            "must be the server's public host key as `ssh-keyscan -t ed25519 <host>` prints it, "
            "e.g. ssh-ed25519 AAAAC3Nza... (whole: a cut-off key does not decode)",
        )
        return None
    return match.group(1)


def _decodes_as(host_key: str) -> bool:
    """The base64 blob is whole and names the same key type it is written under."""
    kind, blob = host_key.split(" ")
    try:
        data = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return False
    length = int.from_bytes(data[:4], "big")
    if data[4 : 4 + length].decode(errors="replace") != kind:
        return False
    if kind == "ssh-ed25519":  # type, then one 32-byte string: nothing missing, nothing after
        return len(data) == 4 + length + 4 + 32 and int.from_bytes(data[4 + length : 8 + length], "big") == 32
    return len(data) > 4 + length + 8


@textual
def local_file(key: str, given: str, problems: Problems) -> str | None:
    """A file on the machine that runs `pulumi up` (not on the host)."""
    if os.path.isfile(given):
        return given
    problems.add(key, given, "must be a PEM file on the machine that runs `pulumi up`; there is none there")
    return None


@textual
def absolute_path(key: str, given: str, problems: Problems) -> str | None:
    if _SAFE_PATH.fullmatch(given) and "/../" not in given + "/":
        return given.rstrip("/") or "/"
    problems.add(key, given, "must be an absolute path on the host of letters, digits and . _ - / @ +")
    return None


# Folders root writes config.toml and its backups into must be the node's own: not these...
_SYSTEM_FOLDERS = ("/", "/root", "/home", "/var", "/var/lib", "/opt", "/srv", "/tmp", "/mnt", "/media")
# ...nor anything under these.
_SYSTEM_TREES = (
    "/etc",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/boot",
    "/dev",
    "/proc",
    "/sys",
    "/run",
    PROGRAM_DIR,
    CERTBOT_VENV,  # the certificate step removes these whole: certbot from PyPI
    CERTBOT_VENVS,
    CERTBOT_VENV_PREVIOUS,
)


def node_dir(key: str, value: Any, problems: Problems) -> str | None:
    """The node's working directory: root writes config.toml and its backups there."""
    given = absolute_path(key, value, problems)
    if given is None:
        return None
    if given in _SYSTEM_FOLDERS or any(given == tree or given.startswith(tree + "/") for tree in _SYSTEM_TREES):
        where = "a system folder"
        if given.startswith(PROGRAM_DIR):
            where = "the ACME webroot, which port 80 serves to anyone"
        elif given.startswith((CERTBOT_VENV, CERTBOT_VENVS)):
            where = "where certbot from PyPI lives, which the certificate step deletes and builds anew"
        problems.add(
            key,
            value,
            f"is {where}: root would write config.toml and its backups there. Give the "
            "node's own working directory (`pactus-daemon start -w`), e.g. /home/pactus/pactus",
        )
        return None
    return given


def _is_ip(text: str) -> bool:
    """An IP address as the program takes one: an IPv6 scope id (`%eth0`), which Python accepts
    with almost any text after it, is not part of one."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return "%" not in text


def _is_numeric_address(name: str) -> bool:
    """What inet_aton, and so a host's resolver, reads as an IPv4 address: 127.1, 0x7f.0.0.1, 2130706433."""
    try:
        socket.inet_aton(name)
        return True
    except OSError:
        return False


def _idna_ok(name: str) -> bool:
    try:
        name.encode("idna")
        return True
    except UnicodeError:
        return False
