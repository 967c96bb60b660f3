"""Every Nginx config the program can render passes the real `nginx -t`, and routes what it should."""

import itertools
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from render.host_layout import HostLayout
from render.nginx import render_acme_http_site, render_jsonrpc_guard, render_tls_site
from testbed.configs import MINIMAL, settings_of
from testbed.credentials import BASIC_AUTH, SECRETS
from tests.cases import parse_case
from tests.nginx_golden import CASES, case_settings, rendered

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
NJS_MODULE = "/usr/lib/nginx/modules/ngx_http_js_module.so"  # Debian's libnginx-mod-http-js, as on a node
GUARD = "jsonrpc-guard.js"  # the njs guard, in the folder nginx -t runs in
CASE_NAMES = sorted(p.name for p in CASES.glob("*.case"))


def settings_for(grpc=True, jsonrpc=False, http=False, wallet=False, domain="node1.example.com", rate_limited=True):
    """`rate_limited`: the defaults (rate limit on, no basic auth) or their opposites (basic auth, no rate limit)."""
    return settings_of(
        {
            **MINIMAL,
            "domain": domain,
            "grpc": {"enable": grpc, "basicAuth": wallet},  # the wallet only behind the node's own check
            "jsonrpc": {"enable": jsonrpc},
            "http": {"enable": http},
            "exposeWallet": wallet,
            "rateLimit": {"enable": rate_limited},
        },
        secrets={**SECRETS, "basicAuth": BASIC_AUTH} if wallet or not rate_limited else SECRETS,
    )


# gRPC is always on: JSON-RPC and the HTTP-API reach Pactus through it.
COMBINATIONS = [
    (True, jsonrpc, http, wallet, rate_limited)
    for jsonrpc, http, wallet, rate_limited in itertools.product((True, False), repeat=4)
]


def with_test_files(text: str, name: str, certificate: tuple[Path, Path], folder: Path) -> str:
    """A site's (or its script's) text with the throwaway certificate in place of Let's Encrypt's
    files, and its njs guard and access log in `folder`: nginx -t opens each, and makes a log it
    does not find, which in /var/log/nginx would outlive the test."""
    layout = HostLayout(name)
    return (
        text.replace(layout.certificate, str(certificate[0]))
        .replace(layout.certificate_key, str(certificate[1]))
        .replace(layout.jsonrpc_guard, str(folder / GUARD))
        .replace(layout.access_log, str(folder / f"{name}.access.log"))
    )


def nginx_test(
    tmp_path: Path, sites: dict[str, str], certificate: tuple[Path, Path], *, njs: bool = True
) -> subprocess.CompletedProcess:
    """Runs `nginx -t` on the sites as the host would include them (inside http{}),
    with the throwaway certificate standing in for Let's Encrypt's files; `njs`: the
    module loaded, as Debian's libnginx-mod-http-js loads it."""
    (tmp_path / "conf.d").mkdir()
    (tmp_path / GUARD).write_text(render_jsonrpc_guard())
    for name, text in sites.items():
        text = with_test_files(text, name.split("/")[0], certificate, tmp_path)
        (tmp_path / "conf.d" / f"{name.replace('/', '-')}.conf").write_text(text)
    (tmp_path / "nginx.conf").write_text(f"""
{f"load_module {NJS_MODULE};" if njs else ""}
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{}}
http {{
    access_log off;
    include /etc/nginx/mime.types;
    include {tmp_path}/conf.d/*.conf;
}}
""")
    return subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True
    )


def test_nginx_is_the_real_one():
    version = subprocess.run([NGINX, "-v"], capture_output=True, text=True)
    assert version.returncode == 0 and "nginx/" in version.stderr


@pytest.mark.parametrize(
    "grpc, jsonrpc, http, wallet, rate_limited",
    COMBINATIONS,
    ids=[f"grpc={g}-jsonrpc={j}-http={h}-wallet={w}-rate_limited={r}" for g, j, h, w, r in COMBINATIONS],
)
def test_every_combination_passes_nginx_t(tmp_path, throwaway_certificate, grpc, jsonrpc, http, wallet, rate_limited):
    settings = settings_for(grpc, jsonrpc, http, wallet, rate_limited=rate_limited)
    result = nginx_test(
        tmp_path,
        {
            "node1.example.com/http": render_acme_http_site(settings),
            "node1.example.com/tls": render_tls_site(settings, http2_directive=False, njs=True),
        },
        throwaway_certificate,
    )
    assert result.returncode == 0, result.stderr
    assert "warn" not in result.stderr, result.stderr


def test_without_njs_only_the_json_rpc_route_differs_and_nginx_takes_it_without_the_module(
    tmp_path, throwaway_certificate
):
    settings = settings_for(jsonrpc=True, http=True)
    guarded = render_tls_site(settings, http2_directive=False, njs=True)
    plain = render_tls_site(settings, http2_directive=False, njs=False)
    jsonrpc_route = guarded[guarded.index("    location = /jsonrpc {") : guarded.index("    # HTTP-API.")]
    assert guarded.replace(jsonrpc_route, "") == plain.replace(
        plain[plain.index("    location = /jsonrpc {") : plain.index("    # HTTP-API.")], ""
    )
    assert "js_" not in plain and "proxy_pass http://pactus_node1_example_com_jsonrpc/;" in plain
    assert nginx_test(tmp_path, {"node1.example.com/tls": plain}, throwaway_certificate, njs=False).returncode == 0
    (tmp_path / "guarded").mkdir()
    refused = nginx_test(tmp_path / "guarded", {"node1.example.com/tls": guarded}, throwaway_certificate, njs=False)
    assert 'unknown directive "js_import"' in refused.stderr  # why the host picks by what its nginx runs


def test_two_nodes_on_one_host_do_not_clash(tmp_path, throwaway_certificate):
    one = settings_for(jsonrpc=True, http=True)
    two = settings_for(jsonrpc=True, http=True, domain="node2.example.com")
    result = nginx_test(
        tmp_path,
        {
            f"{s.domain}/{kind}": render(s)
            for s in (one, two)
            for kind, render in (
                ("http", render_acme_http_site),
                ("tls", lambda s: render_tls_site(s, http2_directive=False, njs=True)),
            )
        },
        throwaway_certificate,
    )
    assert result.returncode == 0, result.stderr


def test_a_broken_config_fails_nginx_t(tmp_path, throwaway_certificate):
    """The check itself can fail: the tutorial's grpc_pass with a URI path is rejected."""
    broken = render_tls_site(settings_for(), http2_directive=False, njs=True).replace(
        "grpc_pass grpc://pactus_node1_example_com_grpc;", "grpc_pass grpc://127.0.0.1:50051/;"
    )
    result = nginx_test(tmp_path, {"node1.example.com/tls": broken}, throwaway_certificate)
    assert result.returncode != 0 and "invalid host" in result.stderr


def test_http2_directive_form_differs_only_in_how_http2_is_turned_on():
    """Debian 12's nginx 1.22 rejects `http2 on;`, so that form is checked textually here."""
    settings = settings_for(jsonrpc=True, http=True)
    legacy = render_tls_site(settings, http2_directive=False, njs=True).splitlines()
    modern = render_tls_site(settings, http2_directive=True, njs=True).splitlines()
    assert [line for line in legacy if line not in modern] == ["    listen 443 ssl http2;"]
    assert [line for line in modern if line not in legacy] == ["    listen 443 ssl;", "    http2 on;"]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_the_rendered_files_are_the_golden_ones(case):
    parts = parse_case(CASES / case)
    for name, text in rendered(parts).items():
        assert text == parts[name], f"{case}: {name} differs; after a deliberate change: python -m tests.nginx_golden"


@pytest.mark.parametrize("case", CASE_NAMES)
def test_each_golden_case_passes_nginx_t(tmp_path, throwaway_certificate, case):
    parts = parse_case(CASES / case)
    name = case_settings(parts).name
    result = nginx_test(
        tmp_path,
        {f"{name}/http": parts["acme-http.conf"], f"{name}/tls": parts["tls-proxy.conf"]},
        throwaway_certificate,
    )
    assert result.returncode == 0 and "warn" not in result.stderr, result.stderr


@pytest.mark.parametrize("case", CASE_NAMES)
def test_security_holds_in_every_case(case):
    """Counted over the whole file, so a route that lost its guard fails here as well as in its golden file."""
    parts = parse_case(CASES / case)
    settings, text = case_settings(parts), parts["tls-proxy.conf"]
    http_apis = settings.jsonrpc.enable + settings.http.enable
    grpc_routes = settings.grpc.enable * (1 + (settings.grpc.path_prefix is not None))
    # TLS as Mozilla's intermediate profile, nothing said about the server.
    for line in (
        "ssl_protocols TLSv1.2 TLSv1.3;",
        "ssl_prefer_server_ciphers on;",
        "server_tokens off;",
        "gzip off;",
        'add_header Strict-Transport-Security "max-age=63072000" always;',
        'add_header X-Content-Type-Options "nosniff" always;',
    ):
        assert f"    {line}\n" in text, line
    # The wallet: refused on every gRPC route and under the HTTP-API, unless routed; routed to
    # every address only behind the node's own check, else to the listed networks alone.
    wallet_routes = (grpc_routes + settings.http.enable) if settings.wallet_routed else 0
    assert text.count("Wallet/ {") == grpc_routes and text.count("wallet/ {") == settings.http.enable
    assert text.count("the Wallet service is not exposed") == grpc_routes - (grpc_routes if wallet_routes else 0)
    scraper_gate = settings.metrics.enable and bool(settings.metrics.scrapers)
    wallet_gates = wallet_routes if settings.wallet_networks else 0
    assert text.splitlines().count("        deny all;") == wallet_gates + scraper_gate
    # SignMessageWithPrivateKey: refused on gRPC and the HTTP-API, and read out of JSON-RPC bodies.
    sign_refused = not settings.expose_sign_message_with_private_key
    assert text.count("Utils/SignMessageWithPrivateKey$ {") == (grpc_routes if sign_refused else 0)
    assert text.count("utils/sign_message_with_private_key {") == (settings.http.enable if sign_refused else 0)
    assert text.count("js_content pactus_secure_jsonrpc.guard;") == (settings.jsonrpc.enable if sign_refused else 0)
    # An OPTIONS request with a body never reaches JSON-RPC or the HTTP-API.
    http_routes = http_apis + (settings.http.enable if settings.wallet_routed else 0)
    assert text.count("_options_with_body) {\n            return 400;") == http_routes
    # The credential on every API: by Nginx, or on gRPC by the node.
    proxied_grpc_routes = grpc_routes * (1 + settings.wallet_routed)
    routes_behind_basic_auth = http_routes + (0 if settings.grpc.basic_auth else proxied_grpc_routes)
    gated_routes = routes_behind_basic_auth + settings.metrics.enable
    assert text.count("auth_basic_user_file ") == (gated_routes if settings.credential_set else 0)
    # The metrics: Pactus's one page, GET alone; no other page of its debug server is routed.
    assert text.count("/metrics/prometheus;\n") == text.count("limit_except GET {") == settings.metrics.enable
    assert text.count("_metrics") == 2 * settings.metrics.enable  # its upstream, and the one proxy_pass
    # Every API route rate-limited per client, when limits are on.
    limited = http_routes + proxied_grpc_routes
    assert text.count("limit_req zone=") == (limited if settings.rate_limit.enable else 0)


def test_port_80_serves_only_the_acme_webroot_and_redirects():
    for case in CASE_NAMES:
        text = parse_case(CASES / case)["acme-http.conf"]
        assert "443" not in text and "ssl_certificate" not in text and "proxy_pass" not in text, case


@pytest.mark.parametrize(
    "address, client",
    [
        ("203.0.113.7", None),  # IPv4: the address itself
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2"),
        ("2001:db8:1:2::6", "2001:db8:1:2"),
        ("2001:db8:1::6", "2001:db8:1:0"),
        ("2001:db8::6", "2001:db8:0:0"),
        ("2001::6", "2001:0:0:0"),
        ("::1", "0:0:0:0"),
    ],
)
def test_an_ipv6_client_counts_by_its_64(address, client):
    """The map's patterns, applied in order as Nginx applies them."""
    text = render_tls_site(settings_for(jsonrpc=True), http2_directive=False, njs=True)
    block = text[text.index(f"map $remote_addr ${HostLayout('node1.example.com').variable_prefix}_client {{") :]
    block = block[: block.index("\n}")]
    for pattern, value in re.findall(r'"~(.+?)"\s+"(.+?)";', block):
        found = re.match(pattern.replace("(?<", "(?P<"), address)
        if found:
            assert re.sub(r"\$(\w)", lambda m, found=found: found.group(m.group(1)), value) == client
            return
    assert client is None


def test_a_site_for_the_longest_domain_passes_nginx_t(tmp_path, throwaway_certificate):
    """Its variables' names are short whatever the domain: nginx refuses a name longer than
    the variables hash's bucket (64 bytes), which the example fleet's domains reached."""
    domain = ".".join(["a" * 63] * 3) + ".com"  # 195 characters: its site's file name still fits in 255
    settings = settings_for(jsonrpc=True, http=True, domain=domain)
    result = nginx_test(
        tmp_path, {f"{domain}/tls": render_tls_site(settings, http2_directive=False, njs=True)}, throwaway_certificate
    )
    assert result.returncode == 0, result.stderr
