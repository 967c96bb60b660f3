"""Every Nginx config the program can render passes the real `nginx -t`, and routes what it should."""

import itertools
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from render.host_layout import HostLayout
from render.nginx import render_acme_http_site, render_tls_site
from tests.pulumi_mocks import BASIC_AUTH, MINIMAL, SECRETS, settings_of

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def settings_for(grpc=True, jsonrpc=False, http=False, wallet=False, domain="node1.example.com", guarded=True):
    """`guarded`: the defaults (rate limit on, no basic auth) or their opposites (basic auth, no rate limit)."""
    return settings_of({
        **MINIMAL,
        "domain": domain,
        "grpc": {"enable": grpc, "basicAuth": wallet},  # the wallet only behind the node's own check
        "jsonrpc": {"enable": jsonrpc},
        "http": {"enable": http},
        "exposeWallet": wallet,
        "rateLimit": {"enable": guarded},
    }, secrets={**SECRETS, "basicAuth": BASIC_AUTH} if wallet or not guarded else SECRETS)


# gRPC is always on: JSON-RPC and the HTTP-API reach Pactus through it.
COMBINATIONS = [
    (True, jsonrpc, http, wallet, guarded)
    for jsonrpc, http, wallet, guarded in itertools.product((True, False), repeat=4)
]


@pytest.fixture(scope="module")
def throwaway_certificate(tmp_path_factory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("certificate")
    certificate, key = directory / "fullchain.pem", directory / "privkey.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test",
                    "-keyout", str(key), "-out", str(certificate)], check=True, capture_output=True)
    return certificate, key


def nginx_test(tmp_path: Path, sites: dict[str, str], certificate: tuple[Path, Path]) -> subprocess.CompletedProcess:
    """Runs `nginx -t` on the sites as the host would include them (inside http{}),
    with the throwaway certificate standing in for Let's Encrypt's files."""
    (tmp_path / "conf.d").mkdir()
    for name, text in sites.items():
        layout = HostLayout(name.split("/")[0])
        text = text.replace(layout.certificate, str(certificate[0])).replace(layout.certificate_key, str(certificate[1]))
        (tmp_path / "conf.d" / f"{name.replace('/', '-')}.conf").write_text(text)
    (tmp_path / "nginx.conf").write_text(f"""
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{}}
http {{
    access_log off;
    include /etc/nginx/mime.types;
    include {tmp_path}/conf.d/*.conf;
}}
""")
    return subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                          capture_output=True, text=True)


def test_nginx_is_the_real_one():
    version = subprocess.run([NGINX, "-v"], capture_output=True, text=True)
    assert version.returncode == 0 and "nginx/" in version.stderr


@pytest.mark.parametrize("grpc, jsonrpc, http, wallet, guarded", COMBINATIONS,
                         ids=[f"grpc={g}-jsonrpc={j}-http={h}-wallet={w}-defaults={d}" for g, j, h, w, d in COMBINATIONS])
def test_every_combination_passes_nginx_t(tmp_path, throwaway_certificate, grpc, jsonrpc, http, wallet, guarded):
    settings = settings_for(grpc, jsonrpc, http, wallet, guarded=guarded)
    result = nginx_test(tmp_path, {
        "node1.example.com/http": render_acme_http_site(settings),
        "node1.example.com/tls": render_tls_site(settings, http2_directive=False),
    }, throwaway_certificate)
    assert result.returncode == 0, result.stderr
    assert "warn" not in result.stderr, result.stderr


def test_two_nodes_on_one_host_do_not_clash(tmp_path, throwaway_certificate):
    one = settings_for(jsonrpc=True, http=True)
    two = settings_for(jsonrpc=True, http=True, domain="node2.example.com")
    result = nginx_test(tmp_path, {
        f"{s.domain}/{kind}": render(s)
        for s in (one, two)
        for kind, render in (("http", render_acme_http_site), ("tls", lambda s: render_tls_site(s, http2_directive=False)))
    }, throwaway_certificate)
    assert result.returncode == 0, result.stderr


def test_a_broken_config_fails_nginx_t(tmp_path, throwaway_certificate):
    """The check itself can fail: the tutorial's grpc_pass with a URI path is rejected."""
    broken = render_tls_site(settings_for(), http2_directive=False).replace(
        "grpc_pass grpc://pactus_node1_example_com_grpc;", "grpc_pass grpc://127.0.0.1:50051/;")
    result = nginx_test(tmp_path, {"node1.example.com/tls": broken}, throwaway_certificate)
    assert result.returncode != 0 and "invalid host" in result.stderr


def test_http2_directive_form_differs_only_in_how_http2_is_turned_on():
    """Debian 12's nginx 1.22 rejects `http2 on;`, so that form is checked textually here."""
    settings = settings_for(jsonrpc=True, http=True)
    legacy = render_tls_site(settings, http2_directive=False).splitlines()
    modern = render_tls_site(settings, http2_directive=True).splitlines()
    assert [line for line in legacy if line not in modern] == ["    listen 443 ssl http2;"]
    assert [line for line in modern if line not in legacy] == ["    listen 443 ssl;", "    http2 on;"]


def test_grpc_routes_match_service_paths_and_deny_the_wallet():
    text = render_tls_site(settings_for(), http2_directive=False)
    assert r"location ~ ^/pactus\.(Blockchain|Network|Transaction|Utils)/ {" in text
    assert r"location ~ ^/pactus\.(Wallet)/ {" in text and "add_header grpc-status 7 always;" in text
    assert "location /grpc" not in text


def test_exposed_wallet_is_routed_like_the_other_services():
    text = render_tls_site(settings_for(wallet=True), http2_directive=False)
    assert r"location ~ ^/pactus\.(Blockchain|Network|Transaction|Utils|Wallet)/ {" in text
    assert "grpc-status 7" not in text


def test_upstream_failure_is_a_grpc_unavailable():
    text = render_tls_site(settings_for(), http2_directive=False)
    assert "error_page 502 503 504 = @grpc_unavailable;" in text
    unavailable = text[text.index("location @grpc_unavailable"):]
    assert "default_type application/grpc;" in unavailable and "grpc-status 14" in unavailable


def test_only_enabled_apis_get_a_route():
    only_grpc = render_tls_site(settings_for(), http2_directive=False)
    assert "grpc_pass" in only_grpc and "location = /jsonrpc" not in only_grpc and "location /http/" not in only_grpc
    with_http = render_tls_site(settings_for(http=True), http2_directive=False)
    assert "location /http/ {" in with_http and "location = /jsonrpc" not in with_http
    with_jsonrpc = render_tls_site(settings_for(jsonrpc=True), http2_directive=False)
    assert "location = /jsonrpc {" in with_jsonrpc and "proxy_pass http://pactus_node1_example_com_jsonrpc/;" in with_jsonrpc
    assert "location /http/" not in with_jsonrpc


def test_custom_paths_and_listen_addresses_are_used():
    settings = settings_of({**MINIMAL, "jsonrpc": {"enable": True, "path": "/rpc", "listen": "127.0.0.1:9545"},
                            "http": {"enable": True, "basePath": "/api/v1", "listen": "[::1]:9080"}})
    text = render_tls_site(settings, http2_directive=False)
    assert "location = /rpc {" in text and "server 127.0.0.1:9545;" in text
    assert "location /api/v1/ {" in text and "server [::1]:9080;" in text


def test_tls_follows_the_mozilla_intermediate_profile_with_server_cipher_order():
    text = render_tls_site(settings_for(), http2_directive=False)
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in text
    assert "ssl_prefer_server_ciphers on;" in text and "gzip off;" in text
    assert 'add_header X-Content-Type-Options "nosniff" always;' in text
    assert 'add_header Strict-Transport-Security "max-age=63072000" always;' in text
    assert "ssl_stapling" not in text and "ssl_dhparam" not in text
    assert "ssl_certificate /etc/letsencrypt/live/node1.example.com/fullchain.pem;" in text


def test_port_80_serves_the_acme_webroot_and_redirects_the_rest():
    text = render_acme_http_site(settings_for())
    assert "location ^~ /.well-known/acme-challenge/ {" in text
    assert "return 301 https://node1.example.com$request_uri;" in text
    assert "443" not in text and "ssl_certificate" not in text


def location_block(text: str, opening: str) -> str:
    start = text.index(opening)
    return text[start:text.index("\n    }\n", start)]


def test_every_api_is_rate_limited_per_client_and_grpc_hears_it_in_grpc_terms():
    text = render_tls_site(settings_for(jsonrpc=True, http=True), http2_directive=False)
    assert "limit_req_zone $pactus_node1_example_com_client zone=pactus_node1_example_com_api:10m rate=10r/s;" in text
    assert "limit_req_status 429;" in text
    for opening in ("location = /jsonrpc {", "location /http/ {", "location ~ ^/pactus\\.(Blockchain"):
        assert "limit_req zone=pactus_node1_example_com_api burst=20 nodelay;" in location_block(text, opening)
    assert "error_page 429 = @grpc_exhausted;" in location_block(text, "location ~ ^/pactus\\.(Blockchain")
    assert "add_header grpc-status 8 always;" in location_block(text, "location @grpc_exhausted")
    assert "limit_req" not in render_tls_site(settings_for(jsonrpc=True, guarded=False), http2_directive=False)


def test_requests_in_progress_are_limited_per_client_and_server_tokens_are_off():
    text = render_tls_site(settings_for(jsonrpc=True), http2_directive=False)
    assert "limit_conn_zone $pactus_node1_example_com_client zone=pactus_node1_example_com_connections:10m;" in text
    assert "    limit_conn pactus_node1_example_com_connections 32;\n    limit_conn_status 429;" in text
    assert "    server_tokens off;\n" in text
    assert "limit_conn" not in render_tls_site(settings_for(jsonrpc=True, guarded=False), http2_directive=False)


def test_an_options_request_with_a_body_never_reaches_json_rpc_or_the_http_api():
    text = render_tls_site(settings_for(jsonrpc=True, http=True), http2_directive=False)
    for opening in ("location = /jsonrpc {", "location /http/ {"):
        assert "if ($pactus_node1_example_com_options_with_body) {\n            return 400;" in location_block(text, opening)


def test_each_route_has_its_body_limit_and_timeouts():
    text = render_tls_site(settings_for(jsonrpc=True, http=True), http2_directive=False)
    for opening, size, timeout in (("location ~ ^/pactus\\.(Blockchain", "1m", "grpc_read_timeout 60s;"),
                                   ("location = /jsonrpc {", "32k", "proxy_read_timeout 60s;"),
                                   ("location /http/ {", "64k", "proxy_read_timeout 60s;")):
        block = location_block(text, opening)
        assert f"client_max_body_size {size};" in block and timeout in block
    assert "client_body_timeout 10s;" in text and "client_header_timeout 10s;" in text


def test_basic_auth_guards_every_api_and_lets_cors_preflights_through():
    text = render_tls_site(settings_for(jsonrpc=True, http=True, guarded=False), http2_directive=False)
    for opening in ("location = /jsonrpc {", "location /http/ {"):
        block = location_block(text, opening)
        assert "limit_except OPTIONS {" in block
        assert "auth_basic_user_file /etc/nginx/pactus-secure-node1.example.com.htpasswd;" in block
    grpc = location_block(text, "location ~ ^/pactus\\.(Blockchain")
    assert "auth_basic_user_file /etc/nginx/pactus-secure-node1.example.com.htpasswd;" in grpc
    assert "error_page 401 = @grpc_unauthenticated;" in grpc
    assert "add_header grpc-status 16 always;" in location_block(text, "location @grpc_unauthenticated")
    assert "auth_basic" not in render_tls_site(settings_for(jsonrpc=True, http=True), http2_directive=False)


def test_the_node_checking_the_credential_on_grpc_leaves_nginx_out_of_it():
    settings = settings_of({**MINIMAL, "grpc": {"basicAuth": True}}, secrets={**SECRETS, "basicAuth": BASIC_AUTH})
    text = render_tls_site(settings, http2_directive=False)
    assert "auth_basic" not in location_block(text, "location ~ ^/pactus\\.(Blockchain")


def test_with_ipv6_both_servers_listen_on_it_too_and_pass_nginx_t(tmp_path, throwaway_certificate):
    settings = settings_of({**MINIMAL, "hostIpv6": "2a01:4f8:c0c:1234::1", "jsonrpc": {"enable": True}})
    http_site, legacy, modern = (render_acme_http_site(settings), render_tls_site(settings, http2_directive=False),
                                 render_tls_site(settings, http2_directive=True))
    assert "    listen 80;\n    listen [::]:80;\n" in http_site
    assert "    listen 443 ssl http2;\n    listen [::]:443 ssl http2;\n" in legacy
    assert "    listen 443 ssl;\n    listen [::]:443 ssl;\n    http2 on;\n" in modern
    result = nginx_test(tmp_path, {"node1.example.com/http": http_site, "node1.example.com/tls": legacy},
                        throwaway_certificate)
    assert result.returncode == 0, result.stderr
    assert "[::]" not in render_tls_site(settings_for(), http2_directive=False)


@pytest.mark.parametrize("address, client", [
    ("203.0.113.7", None),                                # IPv4: the address itself
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2"),
    ("2001:db8:1:2::6", "2001:db8:1:2"),
    ("2001:db8:1::6", "2001:db8:1:0"),
    ("2001:db8::6", "2001:db8:0:0"),
    ("2001::6", "2001:0:0:0"),
    ("::1", "0:0:0:0"),
])
def test_an_ipv6_client_counts_by_its_64(address, client):
    """The map's patterns, applied in order as Nginx applies them."""
    text = render_tls_site(settings_for(jsonrpc=True), http2_directive=False)
    block = text[text.index("map $remote_addr $pactus_node1_example_com_client {"):]
    block = block[:block.index("\n}")]
    for pattern, value in re.findall(r'"~(.+?)"\s+"(.+?)";', block):
        match = re.match(pattern.replace("(?<", "(?P<"), address)
        if match:
            assert re.sub(r"\$(\w)", lambda m: match.group(m.group(1)), value) == client
            return
    assert client is None


def test_grpc_under_a_path_prefix_strips_it_keeps_the_wallet_rule_and_answers_unknown_paths_in_grpc_terms(
        tmp_path, throwaway_certificate):
    settings = settings_of({**MINIMAL, "grpc": {"pathPrefix": "/grpc.v1"}, "jsonrpc": {"enable": True}})
    text = render_tls_site(settings, http2_directive=False)
    routed = location_block(text, "location ~ ^/grpc\\.v1/pactus\\.(Blockchain|Network|Transaction|Utils)/ {")
    assert "rewrite ^/grpc\\.v1(/.*)$ $1 break;" in routed and "grpc_pass grpc://" in routed
    assert "grpc-status 7" in location_block(text, "location ~ ^/grpc\\.v1/pactus\\.(Wallet)/ {")
    assert "grpc-status 12" in location_block(text, "location /grpc.v1/ {")
    assert "location ~ ^/pactus\\.(Blockchain|Network|Transaction|Utils)/ {" in text  # service paths still work
    result = nginx_test(tmp_path, {"node1.example.com/tls": text}, throwaway_certificate)
    assert result.returncode == 0, result.stderr
