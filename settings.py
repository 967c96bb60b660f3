"""One node's settings: parsed from the stack config once, validated, then passed around.

This module knows nothing of Pulumi. `parse_settings` takes the raw stack values (strings
as `pulumi config set` stores them, or typed values from YAML objects) and returns a
frozen `Settings`, or raises `SettingsError` listing every problem of the config at once,
each naming the key, the bad value and the fix. Secrets never enter `Settings`: the
caller hands them in only to have their shape checked, and errors never show them.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, Mapping
from urllib.parse import urlsplit, urlunsplit

NAMESPACE = "pactus-secure"

LETSENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
ACME_SERVER_ALIASES = {"production": LETSENCRYPT_PRODUCTION, "staging": LETSENCRYPT_STAGING}

DISTROS = ("auto", "debian", "redhat", "arch")

# Where a Pactus API may listen with `allowPrivateListen`: networks no internet client reaches.
PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))

# The config.toml sections `pactusConfig` may carry, their keys and types (schema/pactus-config.toml).
PACTUS_SCHEMA: Mapping[str, Any] = tomllib.loads(
    (Path(__file__).resolve().parent / "schema" / "pactus-config.toml").read_text())
# The sections the program writes itself, from the keys of the same names.
MANAGED_SECTIONS = ("grpc", "jsonrpc", "http", "html")

# Every default of the stack config, in one place. Pulumi.yaml declares the same values
# for the CLI (tests/test_settings.py holds the two together); mocks never apply those.
DEFAULTS: dict[str, Any] = {
    "sshPort": 22,
    "sshUser": "root",
    "sshDialErrorLimit": 5,
    "sshPerDialTimeout": 10,
    "manageDns": True,
    "acmeServer": "production",
    "distro": "auto",
    "pactusDir": "/root/pactus",
    "exposeWallet": False,
    "allowPrivateListen": False,
    "firewall": False,
    "p2pPort": 21888,  # mainnet's; testnet's is 21777
    "precheckTimeout": 300,  # seconds the certificate step waits for DNS to point at the host
    "grpc": {"enable": True, "listen": "127.0.0.1:50051", "basicAuth": False, "pathPrefix": ""},
    "jsonrpc": {"enable": False, "listen": "127.0.0.1:8545", "origins": [], "allowAnyOrigin": False,
                "path": "/jsonrpc"},
    "http": {"enable": False, "listen": "127.0.0.1:8080", "basePath": "/http", "enableCors": False},
    # Pactus's debug pages (and Go's profiler with enablePprof): never proxied, loopback only.
    "html": {"enable": False, "listen": "127.0.0.1:8090", "enablePprof": False},
    # Per client address, on every API; a burst beyond it is answered 429 (RESOURCE_EXHAUSTED on gRPC).
    "rateLimit": {"enable": True, "requestsPerSecond": 10, "burst": 20, "inProgress": 32},
    # Largest request body per route, in Nginx's size syntax; larger ones are answered 413. For JSON-RPC
    # it also bounds a batch: a few hundred calls at most per request (and per rate-limit token).
    "maxBodySize": {"grpc": "1m", "jsonrpc": "32k", "http": "64k"},
    "pactusConfig": {},
}
REQUIRED = ("domain", "host", "acmeEmail")
OPTIONAL = ("hostIpv6", "sshHost", "sshHostKey", "cloudflareZoneId", "acmeCaBundle", "checkCaBundle", "pactusService")
OBJECT_KEYS = ("grpc", "jsonrpc", "http", "html", "rateLimit", "maxBodySize", "pactusConfig")
PLAIN_KEYS = REQUIRED + OPTIONAL + tuple(k for k in DEFAULTS if k not in OBJECT_KEYS)
SSH_PRIVATE_KEY = "sshPrivateKey"
BASIC_AUTH = "basicAuth"
SECRET_KEYS = (SSH_PRIVATE_KEY, BASIC_AUTH)  # in the namespace, always set with --secret
CLOUDFLARE_TOKEN = "cloudflare:apiToken"

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/@+-]*$")
_ROUTE = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")
_SSH_USER = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
_UNIT = re.compile(r"^[A-Za-z0-9:_.@-]+$")
_ZONE_ID = re.compile(r"^[0-9a-f]{32}$")
_SIZE = re.compile(r"^[1-9][0-9]{0,5}[km]?$")
_HTPASSWD_BCRYPT = re.compile(r"^[^:\s]+:\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$")
_PRIVATE_KEY = re.compile(r"^-----BEGIN ((?:OPENSSH |RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY)-----\n"
                          r"(.+)\n-----END \1-----$", re.S)
_RESERVED_ROUTES = ("/pactus.", "/.well-known")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
_HOST_KEY = re.compile(r"(?:[^\s]+ )?((?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) [A-Za-z0-9+/]+={0,2})"
                       r"(?: [^\s]+)?")
_LONGEST = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_URL = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?")


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
    basic_auth: bool  # Pactus checks the basicAuth credential itself (grpc.basic_auth)
    path_prefix: str | None  # gRPC also under this path, as Pactus's GUI dials it


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
class HtmlPages:
    enable: bool
    listen: Listen
    enable_pprof: bool


@dataclass(frozen=True)
class RateLimit:
    enable: bool
    requests_per_second: int
    burst: int
    in_progress: int        # requests in progress per client at once


@dataclass(frozen=True)
class BodySizes:
    grpc: str
    jsonrpc: str
    http: str


@dataclass(frozen=True)
class Settings:
    stack: str
    domain: str
    host: str
    host_ipv6: str | None   # an AAAA record and IPv6 listeners when set
    ssh_host: str
    ssh_port: int
    ssh_user: str
    ssh_host_key: str | None  # the server's public host key: without it, any key is accepted
    ssh_dial_error_limit: int
    ssh_per_dial_timeout: int
    manage_dns: bool
    cloudflare_zone_id: str | None
    acme_email: str
    acme_server: str
    acme_ca_bundle: str | None
    check_ca_bundle: str | None  # on the machine running `pulumi up`: trusted by the endpoint check
    precheck_timeout: int   # seconds to wait for the name and port 80 before asking for a certificate
    distro: str
    pactus_dir: str
    pactus_service: str | None
    grpc: GrpcApi
    jsonrpc: JsonRpcApi
    http: HttpApi
    html: HtmlPages
    expose_wallet: bool
    basic_auth: bool        # whether a basicAuth credential is set; the credential itself stays a secret
    rate_limit: RateLimit
    max_body_size: BodySizes
    firewall: bool
    p2p_port: int           # the node's peer-to-peer port, which the firewall keeps open
    pactus_config: Mapping[str, Any]


class _Problems:
    """Collects problems so that one run reports all of them; never shows a secret's value."""

    def __init__(self, hidden: Collection[str]) -> None:
        self.items: list[str] = []
        self.hidden = hidden

    def add(self, key: str, value: Any, fix: str) -> None:
        secret = key.split(".")[0] in self.hidden or key in SECRET_KEYS
        shown = "(not set)" if value is None else "(secret)" if secret else repr(value)
        self.items.append(f"{NAMESPACE}:{key} = {shown}: {fix}")


def parse_settings(raw: Mapping[str, Any], *, stack: str, secrets: Mapping[str, str],
                   hidden: Collection[str] = (), plain_secrets: Collection[str] = ()) -> Settings:
    """Turn raw stack values into Settings, or raise SettingsError naming every problem.

    `secrets`: the secrets that are set (sshPrivateKey, basicAuth, cloudflare:apiToken), read
    here only to check their shape; Settings never holds them. `hidden`: keys the operator
    set with --secret; an error names them but never shows their value. `plain_secrets`:
    secrets outside the namespace (cloudflare:apiToken) that were set without --secret."""
    problems = _Problems(hidden)
    for key in sorted(plain_secrets):
        problems.items.append(f"{key} = (secret): set in plain text, so it sits unencrypted in the stack file and "
                              f"the state: `pulumi config rm {key}`, then `pulumi config set --secret {key} <value>`")
    values = {k: v for k, v in raw.items() if v is not None and v != ""}
    for key in sorted(set(values) - set(PLAIN_KEYS) - set(OBJECT_KEYS)):
        fix = (f"holds a secret: set it with `pulumi config set --secret {key}`" if key in SECRET_KEYS
               else f"unknown key; the keys are {', '.join(sorted(PLAIN_KEYS + OBJECT_KEYS + SECRET_KEYS))}")
        problems.add(key, values[key], fix)

    for key in REQUIRED:
        if key not in values:
            problems.add(key, None, f"required: `pulumi config set {key} <value>`")
    if SSH_PRIVATE_KEY not in values:  # set in plain text: reported above as such
        _check_ssh_key(secrets.get(SSH_PRIVATE_KEY), problems)
    basic_auth = secrets.get(BASIC_AUTH)
    if basic_auth is not None and not _HTPASSWD_BCRYPT.fullmatch(basic_auth.strip()):
        problems.add(BASIC_AUTH, "(secret)", "must be one htpasswd line with a bcrypt hash, user:$2y$..., "
                                             "made by `pulumi config set --secret basicAuth \"$(htpasswd -nB <user>)\"`")

    def get(key: str, convert: Callable[[str, Any, _Problems], Any]) -> Any:
        value = values.get(key, DEFAULTS.get(key))
        return None if value is None else convert(key, value, problems)

    domain = get("domain", _hostname)
    host = get("host", _ipv4)
    host_ipv6 = get("hostIpv6", _ipv6)
    manage_dns = get("manageDns", _bool)
    zone_id = get("cloudflareZoneId", _zone_id)
    if manage_dns and zone_id is None and "cloudflareZoneId" not in values:
        problems.add("cloudflareZoneId", None,
                     "required while manageDns is true: the zone id from the domain's Cloudflare overview page, "
                     "or `pulumi config set manageDns false` if the A record is managed elsewhere")
    if manage_dns and not secrets.get(CLOUDFLARE_TOKEN):
        problems.items.append(
            f"{CLOUDFLARE_TOKEN} = (not set): required while manageDns is true: "
            "`pulumi config set --secret cloudflare:apiToken <token with DNS edit on the zone>`")
    ssh_host = get("sshHost", _ssh_host) or host
    allow_private = get("allowPrivateListen", _bool)

    def listen(key: str, value: Any) -> Listen | None:
        return _listen(key, value, problems, allow_private=allow_private)

    grpc_raw = _object("grpc", values, problems)
    jsonrpc_raw = _object("jsonrpc", values, problems)
    http_raw = _object("http", values, problems)
    html_raw = _object("html", values, problems)
    rate_raw = _object("rateLimit", values, problems)
    body_raw = _object("maxBodySize", values, problems)
    grpc = GrpcApi(enable=_bool("grpc.enable", grpc_raw["enable"], problems),
                   listen=listen("grpc.listen", grpc_raw["listen"]),
                   basic_auth=_bool("grpc.basicAuth", grpc_raw["basicAuth"], problems),
                   path_prefix=_route("grpc.pathPrefix", grpc_raw["pathPrefix"], problems)
                   if grpc_raw["pathPrefix"] != "" else None)
    if grpc.basic_auth and basic_auth is None:
        problems.add("grpc.basicAuth", True, "needs the credential: `pulumi config set --secret basicAuth "
                                             "\"$(htpasswd -nB <user>)\"`, or grpc.basicAuth false")
    allow_any_origin = _bool("jsonrpc.allowAnyOrigin", jsonrpc_raw["allowAnyOrigin"], problems)
    jsonrpc = JsonRpcApi(enable=_bool("jsonrpc.enable", jsonrpc_raw["enable"], problems),
                         listen=listen("jsonrpc.listen", jsonrpc_raw["listen"]),
                         origins=_origins("jsonrpc.origins", jsonrpc_raw["origins"], problems, allow_any_origin),
                         path=_route("jsonrpc.path", jsonrpc_raw["path"], problems))
    http = HttpApi(enable=_bool("http.enable", http_raw["enable"], problems),
                   listen=listen("http.listen", http_raw["listen"]),
                   base_path=_route("http.basePath", http_raw["basePath"], problems),
                   enable_cors=_bool("http.enableCors", http_raw["enableCors"], problems))
    _check_apis(grpc, jsonrpc, http, problems)

    expose_wallet = get("exposeWallet", _bool)
    if expose_wallet and not grpc.enable:
        problems.add("exposeWallet", True, "the Wallet service is served by gRPC: set grpc.enable true, "
                                           "or exposeWallet false")
    elif expose_wallet and not (grpc.basic_auth and basic_auth is not None):
        problems.add("exposeWallet", True, "would let anyone create, restore and spend from the node's wallets: "
                                           "it needs the credential, checked by the node on gRPC and by Nginx on "
                                           "JSON-RPC and the HTTP-API: set basicAuth (--secret) and grpc.basicAuth "
                                           "true, or exposeWallet false")
    if not grpc.enable and (jsonrpc.enable or http.enable):
        problems.add("grpc.enable", False, "JSON-RPC and the HTTP-API reach Pactus through its gRPC server: "
                                           "keep grpc.enable true")

    settings = Settings(
        stack=stack,
        domain=domain,
        host=host,
        host_ipv6=host_ipv6,
        ssh_host=ssh_host,
        ssh_port=get("sshPort", _port),
        ssh_user=get("sshUser", _ssh_user),
        ssh_host_key=get("sshHostKey", _ssh_host_key),
        ssh_dial_error_limit=get("sshDialErrorLimit", _whole(1, 100, "a number of tries")),
        ssh_per_dial_timeout=get("sshPerDialTimeout", _whole(1, 300, "a number of seconds")),
        manage_dns=manage_dns,
        cloudflare_zone_id=zone_id,
        acme_email=get("acmeEmail", _email),
        acme_server=get("acmeServer", _acme_server),
        acme_ca_bundle=get("acmeCaBundle", _absolute_path),
        check_ca_bundle=get("checkCaBundle", _local_file),
        precheck_timeout=get("precheckTimeout", _whole(0, 3600, "a number of seconds")),
        distro=get("distro", _distro),
        pactus_dir=get("pactusDir", _absolute_path),
        pactus_service=get("pactusService", _unit),
        grpc=grpc,
        jsonrpc=jsonrpc,
        http=http,
        html=HtmlPages(enable=_bool("html.enable", html_raw["enable"], problems),
                       listen=listen("html.listen", html_raw["listen"]),
                       enable_pprof=_bool("html.enablePprof", html_raw["enablePprof"], problems)),
        expose_wallet=expose_wallet,
        basic_auth=basic_auth is not None,
        rate_limit=RateLimit(
            enable=_bool("rateLimit.enable", rate_raw["enable"], problems),
            requests_per_second=_whole(1, 10_000, "a number of requests per second")(
                "rateLimit.requestsPerSecond", rate_raw["requestsPerSecond"], problems),
            burst=_whole(0, 100_000, "a number of requests")("rateLimit.burst", rate_raw["burst"], problems),
            in_progress=_whole(1, 10_000, "a number of requests")("rateLimit.inProgress", rate_raw["inProgress"],
                                                                  problems)),
        max_body_size=BodySizes(**{api: _size(f"maxBodySize.{api}", body_raw[api], problems)
                                   for api in ("grpc", "jsonrpc", "http")}),
        firewall=get("firewall", _bool),
        p2p_port=get("p2pPort", _port),
        pactus_config=get("pactusConfig", _pactus_config),
    )
    if problems.items:
        raise SettingsError(problems.items)
    return settings

def _object(key: str, values: Mapping[str, Any], problems: _Problems) -> dict[str, Any]:
    """An object key's fields over its defaults; its fields are those DEFAULTS gives it."""
    fields = tuple(DEFAULTS[key])
    given = values.get(key, {})
    if not isinstance(given, Mapping):
        problems.add(key, given, f"must be an object with the fields {', '.join(fields)}, "
                                 f"e.g. `pulumi config set --path {key}.{fields[0]} <value>`")
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
    paths = [(key, path) for key, api, path in (("grpc.pathPrefix", grpc, grpc.path_prefix),
                                                 ("jsonrpc.path", jsonrpc, jsonrpc.path),
                                                 ("http.basePath", http, http.base_path)) if api.enable and path]
    for index, (key, a) in enumerate(paths):
        for other, b in paths[index + 1:]:
            if a == b or a.startswith(b + "/") or b.startswith(a + "/"):
                problems.add(key, a, f"overlaps {other} {b!r}: give each API its own path")


def _str(key: str, value: Any, problems: _Problems) -> str | None:
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


def _bool(key: str, value: Any, problems: _Problems) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    problems.add(key, value, "must be true or false")
    return False


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
    elif len(name) > 253 or "." not in name or not all(_LABEL.fullmatch(label) for label in name.split(".")):
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


def _ipv6(key: str, value: Any, problems: _Problems) -> str | None:
    text = _str(key, value, problems)
    try:
        address = ipaddress.IPv6Address(text.strip("[]") if text else "")
    except (ipaddress.AddressValueError, ValueError):
        address = None
    if address is None or not address.is_global:
        problems.add(key, value, "must be the server's public IPv6 address, e.g. 2a01:4f8:c0c:1234::1 "
                                 "(global: not link-local, private or documentation), or unset for IPv4 only")
        return None
    return str(address)


def _listen(key: str, value: Any, problems: _Problems, *, allow_private: bool) -> Listen | None:
    text = _str(key, value, problems)
    if text is None:
        return None
    match = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:(\d+)|([^:\[\]]+):(\d+)", text)
    if not match:
        problems.add(key, value, "must be address:port, e.g. 127.0.0.1:50051")
        return None
    host = match.group(1) or match.group(3)
    port = _port(key, match.group(2) or match.group(4), problems)
    address = ipaddress.ip_address(host) if _is_ip(host) else None
    private = address is not None and any(address in network for network in PRIVATE_NETWORKS)
    if private and not allow_private:
        problems.add(key, value, "is a private address: keep Pactus on loopback (127.0.0.1 or [::1]), or set "
                                 "allowPrivateListen true if only this host's private network reaches it")
        return None
    if host != "localhost" and not private and not (address is not None and address.is_loopback):
        problems.add(key, value, "must stay on loopback (127.0.0.1 or [::1]): Nginx is the only public "
                                 "entry, a public or wildcard listen address exposes the node without TLS")
        return None
    if port in (80, 443):
        problems.add(key, value, "ports 80 and 443 belong to Nginx on this host: choose another port")
    return Listen(host, port)


def _route(key: str, value: Any, problems: _Problems) -> str | None:
    text = _str(key, value, problems)
    if text is None:
        return None
    if not _ROUTE.fullmatch(text) or any(segment in (".", "..") for segment in text.split("/")):
        problems.add(key, value, "must be an absolute URL path like /jsonrpc: segments of letters, digits "
                                 "and . _ ~ - (not . or .. alone, which no request path keeps), no trailing "
                                 "slash, no spaces, quotes or regex characters")
        return None
    if text.startswith(_RESERVED_ROUTES):
        problems.add(key, value, "collides with the gRPC service paths (/pactus.*) or the ACME challenge "
                                 "path (/.well-known): choose another path")
        return None
    return text


def _origins(key: str, value: Any, problems: _Problems, allow_any: bool) -> tuple[str, ...]:
    if not isinstance(value, list):
        problems.add(key, value, "must be a list of origins, e.g. [\"https://wallet.example.com\"]")
        return ()
    origins = []
    for item in value:
        if _str(key, item, problems) is None:
            continue
        parts = urlsplit(item)
        if item == "*":
            if allow_any:
                origins.append(item)
            else:
                problems.add(key, item, "lets any web page call the node from its visitors' browsers: list the "
                                        "origins, or set jsonrpc.allowAnyOrigin true to mean it")
        elif not _ORIGIN.fullmatch(item) or urlunsplit(parts) != item:
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
    if not _URL.fullmatch(url) or urlunsplit(urlsplit(url)) != url:
        problems.add(key, value, "must be `production`, `staging` or the https URL of an ACME directory "
                                 "(https://host[:port]/path: letters, digits and . _ ~ - / only)")
        return None
    return url


def _matching(pattern: re.Pattern[str], fix: str) -> Callable[[str, Any, _Problems], str | None]:
    """A validator for strings of one pattern, with the fix to name when one does not match."""
    def convert(key: str, value: Any, problems: _Problems) -> str | None:
        text = _str(key, value, problems)
        if text is None:
            return None
        if pattern.fullmatch(text):
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


def _whole(low: int, high: int, what: str) -> Callable[[str, Any, _Problems], int]:
    """A validator for whole numbers from `low` to `high`; `what` they count, for the fix."""
    def convert(key: str, value: Any, problems: _Problems) -> int:
        number = value if isinstance(value, int) and not isinstance(value, bool) else None
        if isinstance(value, str) and value.strip().isdigit():
            number = int(value)
        if number is None or not low <= number <= high:
            problems.add(key, value, f"must be {what} from {low} to {high}")
            return low
        return number
    return convert


def _port(key: str, value: Any, problems: _Problems) -> int:
    return _whole(1, 65535, "a port number")(key, value, problems)


def _size(key: str, value: Any, problems: _Problems) -> str:
    text = str(value).strip().lower() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if _SIZE.fullmatch(text):
        return text
    problems.add(key, value, "must be a size in Nginx's syntax: bytes, or a number with k or m, e.g. 256k")
    return "1m"


def _check_ssh_key(key_text: str | None, problems: _Problems) -> None:
    """The key's shape only: a public key, a passphrase or a mangled paste fails here, not at the first SSH dial."""
    fix = None
    if key_text is None:
        fix = "required: `pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`"
    elif key_text.lstrip().startswith(("ssh-", "ecdsa-", "sk-")):
        fix = ("is a public key: set the private key, `pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519` "
               "(not the .pub file)")
    elif not (match := _PRIVATE_KEY.match(key_text.strip().replace("\r\n", "\n"))):
        fix = ("is not a private key file (-----BEGIN ... PRIVATE KEY----- to -----END ... PRIVATE KEY-----): "
               "set the whole file, `pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`")
    elif match.group(1) == "ENCRYPTED PRIVATE KEY" or "Proc-Type: 4,ENCRYPTED" in key_text \
            or _openssh_cipher(match) not in (None, b"none"):
        fix = ("is protected by a passphrase, which a deployment cannot type: use a key without one, "
               "made for deployments (`ssh-keygen -t ed25519 -N '' -f pactus_deploy`)")
    elif match.group(1) == "OPENSSH PRIVATE KEY" and _openssh_cipher(match) is None:
        fix = "is damaged: its base64 body is not an OpenSSH key; set the whole file again"
    if fix is not None:
        problems.add(SSH_PRIVATE_KEY, None if key_text is None else key_text, fix)


def _openssh_cipher(match: re.Match[str]) -> bytes | None:
    """The cipher an OpenSSH key is encrypted with (b"none" for none), None if it is not one."""
    if match.group(1) != "OPENSSH PRIVATE KEY":
        return None
    try:
        body = base64.b64decode("".join(match.group(2).split()), validate=True)
    except ValueError:
        return None
    magic = b"openssh-key-v1\0"
    if not body.startswith(magic) or len(body) < len(magic) + 4:
        return None
    length = int.from_bytes(body[len(magic):len(magic) + 4], "big")
    return body[len(magic) + 4:len(magic) + 4 + length] or None


def _ssh_host_key(key: str, value: Any, problems: _Problems) -> str | None:
    """`type base64`, as in known_hosts; a host name before it (ssh-keyscan's lines) and a comment
    after it (a .pub file's) are dropped."""
    text = _str(key, value, problems)
    if text is None:
        return None
    match = _HOST_KEY.fullmatch(text)
    if match is None:
        problems.add(key, value, "must be the server's public host key as `ssh-keyscan -t ed25519 <host>` prints it, "
                                 "e.g. ssh-ed25519 AAAAC3Nza...")
        return None
    return match.group(1)


def _local_file(key: str, value: Any, problems: _Problems) -> str | None:
    """A file on the machine that runs `pulumi up` (not on the host)."""
    text = _str(key, value, problems)
    if text is not None and os.path.isfile(text):
        return text
    if text is not None:
        problems.add(key, value, "must be a PEM file on the machine that runs `pulumi up`; there is none there")
    return None


def _absolute_path(key: str, value: Any, problems: _Problems) -> str | None:
    text = _str(key, value, problems)
    if text is not None and _SAFE_PATH.fullmatch(text) and "/../" not in text + "/":
        return text.rstrip("/") or "/"
    problems.add(key, value, "must be an absolute path on the host of letters, digits and . _ - / @ +")
    return None


def _pactus_config(key: str, value: Any, problems: _Problems) -> Mapping[str, Any]:
    """Sections of config.toml as Pactus decodes them: a key or type it would reject is refused here."""
    if not isinstance(value, Mapping):
        problems.add(key, value, "must be an object of config.toml sections, e.g. {node: {reward_addresses: [...]}}")
        return {}
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


def _check_table(path: str, table: Any, schema: Mapping[str, Any], problems: _Problems) -> None:
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
