"""One node's settings: parsed from the stack config once, validated, then passed around.

This module knows nothing of Pulumi. `parse_settings` takes the raw stack values (strings
as `pulumi config set` stores them, or typed values from YAML objects) and returns a
frozen `Settings`, or raises `SettingsError` listing every problem of the config at once,
each naming the key, the bad value and the fix. Secrets never enter `Settings`: the
caller says only which secrets are present.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Callable, Collection, Mapping
from urllib.parse import urlsplit

NAMESPACE = "pactus-secure"

LETSENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
ACME_SERVER_ALIASES = {"production": LETSENCRYPT_PRODUCTION, "staging": LETSENCRYPT_STAGING}

DISTROS = ("auto", "debian", "redhat", "arch")

# Top-level config.toml sections of Pactus v1.8+ that `pactusConfig` may carry. The API
# sections are not among them: they come from the `grpc`, `jsonrpc` and `http` keys.
PACTUS_PASSTHROUGH_SECTIONS = (
    "node", "store", "network", "sync", "tx_pool", "consensus", "logger", "zeromq", "wallet", "html",
)

# Every default of the stack config, in one place. Pulumi.yaml declares the same values
# for the CLI (tests/test_settings.py holds the two together); mocks never apply those.
DEFAULTS: dict[str, Any] = {
    "sshPort": 22,
    "sshUser": "root",
    "manageDns": True,
    "acmeServer": "production",
    "distro": "auto",
    "pactusDir": "/root/pactus",
    "exposeWallet": False,
    "grpc": {"enable": True, "listen": "127.0.0.1:50051"},
    "jsonrpc": {"enable": False, "listen": "127.0.0.1:8545", "origins": [], "path": "/jsonrpc"},
    "http": {"enable": False, "listen": "127.0.0.1:8080", "basePath": "/http", "enableCors": False},
    "pactusConfig": {},
}
REQUIRED = ("domain", "host", "acmeEmail")
OPTIONAL = ("sshHost", "cloudflareZoneId", "acmeCaBundle", "pactusService")
OBJECT_KEYS = ("grpc", "jsonrpc", "http", "pactusConfig")
PLAIN_KEYS = REQUIRED + OPTIONAL + tuple(k for k in DEFAULTS if k not in OBJECT_KEYS)
SSH_PRIVATE_KEY = "sshPrivateKey"
CLOUDFLARE_TOKEN = "cloudflare:apiToken"

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/@+-]*$")
_ROUTE = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")
_SSH_USER = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
_UNIT = re.compile(r"^[A-Za-z0-9:_.@-]+$")
_ZONE_ID = re.compile(r"^[0-9a-f]{32}$")
_RESERVED_ROUTES = ("/pactus.", "/.well-known")


class SettingsError(ValueError):
    """Every problem found in one stack config, one line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the stack config:\n{lines}")


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class GrpcApi:
    enable: bool
    listen: Listen


@dataclass(frozen=True)
class JsonRpcApi:
    enable: bool
    listen: Listen
    origins: tuple[str, ...]
    path: str


@dataclass(frozen=True)
class HttpApi:
    enable: bool
    listen: Listen
    base_path: str
    enable_cors: bool


@dataclass(frozen=True)
class Settings:
    stack: str
    domain: str
    host: str
    ssh_host: str
    ssh_port: int
    ssh_user: str
    manage_dns: bool
    cloudflare_zone_id: str | None
    acme_email: str
    acme_server: str
    acme_ca_bundle: str | None
    distro: str
    pactus_dir: str
    pactus_service: str | None
    grpc: GrpcApi
    jsonrpc: JsonRpcApi
    http: HttpApi
    expose_wallet: bool
    pactus_config: Mapping[str, Any]


class _Problems:
    """Collects problems so that one run reports all of them; never shows a secret's value."""

    def __init__(self, hidden: Collection[str]) -> None:
        self.items: list[str] = []
        self.hidden = hidden

    def add(self, key: str, value: Any, fix: str) -> None:
        shown = "(not set)" if value is None else "(secret)" if key.split(".")[0] in self.hidden else repr(value)
        self.items.append(f"{NAMESPACE}:{key} = {shown}: {fix}")


def parse_settings(raw: Mapping[str, Any], *, stack: str, secrets_present: Collection[str],
                   hidden: Collection[str] = ()) -> Settings:
    """Turn raw stack values into Settings, or raise SettingsError naming every problem.

    `hidden`: keys the operator set as secrets; an error names them but not their value."""
    problems = _Problems(hidden)
    values = {k: v for k, v in raw.items() if v is not None and v != ""}
    for key in sorted(set(values) - set(PLAIN_KEYS) - set(OBJECT_KEYS)):
        problems.add(key, values[key], f"unknown key; the keys are {', '.join(sorted(PLAIN_KEYS + OBJECT_KEYS))}")

    for key in REQUIRED:
        if key not in values:
            problems.add(key, None, f"required: `pulumi config set {key} <value>`")
    if SSH_PRIVATE_KEY not in secrets_present:
        problems.add(SSH_PRIVATE_KEY, None,
                     "required: `pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`")

    def get(key: str, convert: Callable[[str, Any, _Problems], Any]) -> Any:
        value = values.get(key, DEFAULTS.get(key))
        return None if value is None else convert(key, value, problems)

    domain = get("domain", _hostname)
    host = get("host", _ipv4)
    manage_dns = get("manageDns", _bool)
    zone_id = get("cloudflareZoneId", _zone_id)
    if manage_dns and zone_id is None and "cloudflareZoneId" not in values:
        problems.add("cloudflareZoneId", None,
                     "required while manageDns is true: the zone id from the domain's Cloudflare overview page, "
                     "or `pulumi config set manageDns false` if the A record is managed elsewhere")
    if manage_dns and CLOUDFLARE_TOKEN not in secrets_present:
        problems.items.append(
            f"{CLOUDFLARE_TOKEN} = (not set): required while manageDns is true: "
            "`pulumi config set --secret cloudflare:apiToken <token with DNS edit on the zone>`")
    ssh_host = get("sshHost", _ssh_host) or host

    grpc_raw = _object("grpc", values, ("enable", "listen"), problems)
    jsonrpc_raw = _object("jsonrpc", values, ("enable", "listen", "origins", "path"), problems)
    http_raw = _object("http", values, ("enable", "listen", "basePath", "enableCors"), problems)
    grpc = GrpcApi(enable=_bool("grpc.enable", grpc_raw["enable"], problems),
                   listen=_listen("grpc.listen", grpc_raw["listen"], problems))
    jsonrpc = JsonRpcApi(enable=_bool("jsonrpc.enable", jsonrpc_raw["enable"], problems),
                         listen=_listen("jsonrpc.listen", jsonrpc_raw["listen"], problems),
                         origins=_origins("jsonrpc.origins", jsonrpc_raw["origins"], problems),
                         path=_route("jsonrpc.path", jsonrpc_raw["path"], problems))
    http = HttpApi(enable=_bool("http.enable", http_raw["enable"], problems),
                   listen=_listen("http.listen", http_raw["listen"], problems),
                   base_path=_route("http.basePath", http_raw["basePath"], problems),
                   enable_cors=_bool("http.enableCors", http_raw["enableCors"], problems))
    _check_apis(grpc, jsonrpc, http, problems)

    expose_wallet = get("exposeWallet", _bool)
    if expose_wallet and not grpc.enable:
        problems.add("exposeWallet", True, "the Wallet service is served by gRPC: set grpc.enable true, "
                                           "or exposeWallet false")

    settings = Settings(
        stack=stack,
        domain=domain,
        host=host,
        ssh_host=ssh_host,
        ssh_port=get("sshPort", _port),
        ssh_user=get("sshUser", _ssh_user),
        manage_dns=manage_dns,
        cloudflare_zone_id=zone_id,
        acme_email=get("acmeEmail", _email),
        acme_server=get("acmeServer", _acme_server),
        acme_ca_bundle=get("acmeCaBundle", _absolute_path),
        distro=get("distro", _distro),
        pactus_dir=get("pactusDir", _absolute_path),
        pactus_service=get("pactusService", _unit),
        grpc=grpc,
        jsonrpc=jsonrpc,
        http=http,
        expose_wallet=expose_wallet,
        pactus_config=get("pactusConfig", _passthrough),
    )
    if problems.items:
        raise SettingsError(problems.items)
    return settings


def _object(key: str, values: Mapping[str, Any], fields: tuple[str, ...], problems: _Problems) -> dict[str, Any]:
    given = values.get(key, {})
    if not isinstance(given, Mapping):
        problems.add(key, given, f"must be an object with the fields {', '.join(fields)}, "
                                 f"e.g. `pulumi config set --path {key}.enable true`")
        given = {}
    for field in sorted(set(given) - set(fields)):
        problems.add(f"{key}.{field}", given[field], f"unknown field; {key} has {', '.join(fields)}")
    return {**DEFAULTS[key], **{f: v for f, v in given.items() if f in fields}}


def _check_apis(grpc: GrpcApi, jsonrpc: JsonRpcApi, http: HttpApi, problems: _Problems) -> None:
    enabled = {name: api for name, api in (("grpc", grpc), ("jsonrpc", jsonrpc), ("http", http)) if api.enable}
    if not enabled:
        problems.add("grpc.enable", False, "no API is enabled, so there is nothing to proxy: "
                                           "enable at least one of grpc, jsonrpc, http")
    seen: dict[Listen, str] = {}
    for name, api in enabled.items():
        if api.listen is None:
            continue
        if api.listen in seen:
            problems.add(f"{name}.listen", str(api.listen),
                         f"{seen[api.listen]} listens there too: give each API its own port")
        seen.setdefault(api.listen, name)
    if jsonrpc.enable and http.enable and None not in (jsonrpc.path, http.base_path):
        a, b = jsonrpc.path, http.base_path
        if a == b or a.startswith(b + "/") or b.startswith(a + "/"):
            problems.add("jsonrpc.path", a, f"overlaps http.basePath {b!r}: give each API its own path")


def _str(key: str, value: Any, problems: _Problems) -> str | None:
    if isinstance(value, str):
        return value.strip()
    problems.add(key, value, "must be a string")
    return None


def _bool(key: str, value: Any, problems: _Problems) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    problems.add(key, value, "must be true or false")
    return False


def _port(key: str, value: Any, problems: _Problems) -> int:
    number = value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    if number is None or not 1 <= number <= 65535:
        problems.add(key, value, "must be a port number from 1 to 65535")
        return 0
    return number


def _hostname(key: str, value: Any, problems: _Problems) -> str | None:
    text = _str(key, value, problems)
    if text is None:
        return None
    name = text.lower().rstrip(".")
    if _is_ip(name):
        problems.add(key, value, "must be a DNS name, not an IP address: certificates are issued for names")
    elif "*" in name:
        problems.add(key, value, "must be one name, not a wildcard: HTTP-01 validation cannot issue wildcards")
    elif not name.isascii():
        problems.add(key, value, f"write an internationalised name in punycode: {name.encode('idna').decode()!r}"
                     if _idna_ok(name) else "is not a valid internationalised name")
    elif len(name) > 253 or "." not in name or not all(_LABEL.match(label) for label in name.split(".")):
        problems.add(key, value, "must be a fully qualified hostname such as node1.example.com "
                                 "(labels of letters, digits and hyphens, 253 characters at most)")
    else:
        return name
    return None


def _ssh_host(key: str, value: Any, problems: _Problems) -> str | None:
    text = _str(key, value, problems)
    if text is not None and _is_ip(text):
        return text
    return _hostname(key, value, problems) if text is not None else None


def _ipv4(key: str, value: Any, problems: _Problems) -> str | None:
    text = _str(key, value, problems)
    try:
        return str(ipaddress.IPv4Address(text))
    except (ipaddress.AddressValueError, ValueError):
        problems.add(key, value, "must be the server's public IPv4 address, e.g. 203.0.113.10")
        return None


def _listen(key: str, value: Any, problems: _Problems) -> Listen | None:
    text = _str(key, value, problems)
    if text is None:
        return None
    match = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:(\d+)|([^:\[\]]+):(\d+)", text)
    if not match:
        problems.add(key, value, "must be address:port, e.g. 127.0.0.1:50051")
        return None
    host = match.group(1) or match.group(3)
    port = _port(key, match.group(2) or match.group(4), problems)
    if host != "localhost" and not (_is_ip(host) and ipaddress.ip_address(host).is_loopback):
        problems.add(key, value, "must stay on loopback (127.0.0.1 or [::1]): Nginx is the only public "
                                 "entry, a public listen address exposes the node without TLS")
        return None
    if port in (80, 443):
        problems.add(key, value, "ports 80 and 443 belong to Nginx on this host: choose another port")
    return Listen(host, port)


def _route(key: str, value: Any, problems: _Problems) -> str | None:
    text = _str(key, value, problems)
    if text is None:
        return None
    if not _ROUTE.match(text):
        problems.add(key, value, "must be an absolute URL path like /jsonrpc: segments of letters, digits "
                                 "and . _ ~ -, no trailing slash, no spaces, quotes or regex characters")
        return None
    if text.startswith(_RESERVED_ROUTES):
        problems.add(key, value, "collides with the gRPC service paths (/pactus.*) or the ACME challenge "
                                 "path (/.well-known): choose another path")
        return None
    return text


def _origins(key: str, value: Any, problems: _Problems) -> tuple[str, ...]:
    if not isinstance(value, list):
        problems.add(key, value, "must be a list of origins, e.g. [\"https://wallet.example.com\"]")
        return ()
    origins = []
    for item in value:
        parts = urlsplit(item) if isinstance(item, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname \
                or parts.path not in ("",) or parts.query or parts.fragment or parts.username:
            problems.add(key, item, "each origin must be scheme://host[:port] with http or https and "
                                    "nothing after it, e.g. https://wallet.example.com")
        else:
            origins.append(item)
    return tuple(origins)


def _acme_server(key: str, value: Any, problems: _Problems) -> str | None:
    text = _str(key, value, problems)
    if text is None:
        return None
    url = ACME_SERVER_ALIASES.get(text, text)
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        problems.add(key, value, "must be `production`, `staging` or the https URL of an ACME directory")
        return None
    return url


def _matching(pattern: re.Pattern[str], fix: str) -> Callable[[str, Any, _Problems], str | None]:
    """A validator for strings of one pattern, with the fix to name when one does not match."""
    def convert(key: str, value: Any, problems: _Problems) -> str | None:
        text = _str(key, value, problems)
        if text is not None and pattern.match(text):
            return text
        problems.add(key, value, fix)
        return None
    return convert


_email = _matching(_EMAIL, "must be an email address: Let's Encrypt sends expiry notices there")
_distro = _matching(re.compile(f"^({'|'.join(DISTROS)})$"),
                    f"must be one of {', '.join(DISTROS)} (auto reads /etc/os-release on the host)")
_ssh_user = _matching(_SSH_USER, "must be a Unix user name; a non-root user needs passwordless sudo")
_unit = _matching(_UNIT, "must be a systemd unit name such as pactus.service")
_zone_id = _matching(_ZONE_ID, "must be the zone's 32-character hex id from its Cloudflare overview page")


def _absolute_path(key: str, value: Any, problems: _Problems) -> str | None:
    text = _str(key, value, problems)
    if text is not None and _SAFE_PATH.match(text) and "/../" not in text + "/":
        return text.rstrip("/") or "/"
    problems.add(key, value, "must be an absolute path on the host of letters, digits and . _ - / @ +")
    return None


def _passthrough(key: str, value: Any, problems: _Problems) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        problems.add(key, value, "must be an object of config.toml sections, e.g. {node: {reward_addresses: [...]}}")
        return {}
    for section, table in value.items():
        if section not in PACTUS_PASSTHROUGH_SECTIONS:
            fix = ("is set by the grpc, jsonrpc, http and exposeWallet keys" if section in ("grpc", "jsonrpc", "http")
                   else f"is not a Pactus config section; the sections are {', '.join(PACTUS_PASSTHROUGH_SECTIONS)}")
            problems.add(f"{key}.{section}", table, fix)
        elif not isinstance(table, Mapping):
            problems.add(f"{key}.{section}", table, "must be a table of keys")
        elif "listen" in table:
            _listen(f"{key}.{section}.listen", table["listen"], problems)
    return value


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
