"""An IP-address node's site is the default server of :443 (clients that dial an address send
no SNI). Beside another default there (a catch-all with ssl_reject_handshake, or a second
IP-address node) nginx would refuse both, so the step refuses first, having changed nothing;
and as the default it answers no name but its own. Run with the real nginx."""

from __future__ import annotations

from pathlib import Path

import pytest

from render.nginx import render_tls_site
from render.scripts import tls_site_script
from testbed.configs import IP_ADDRESS_NODE, MINIMAL, settings_of
from tests.shell import run_function
from tests.test_nginx_config import NGINX, nginx_test, with_test_files

IP_NODE = settings_of(IP_ADDRESS_NODE)
CATCH_ALL = """server {
    listen 443 ssl default_server;
    server_name _;
    ssl_reject_handshake on;
}
"""


def site(settings) -> str:
    return render_tls_site(settings, http2_directive=False, njs=True)


def nginx_on_path(tmp_path: Path) -> Path:
    """`nginx` as the step runs it, the real one on the test's configuration."""
    folder = tmp_path / "bin"
    folder.mkdir()
    wrapper = folder / "nginx"
    wrapper.write_text(f'#!/bin/sh\nexec {NGINX} -p {tmp_path} -c {tmp_path}/nginx.conf "$@"\n')
    wrapper.chmod(0o755)
    return folder


def other_default(tmp_path: Path, sites: dict[str, str], certificate) -> str:
    assert nginx_test(tmp_path, sites, certificate).returncode == 0  # and lays the configuration out
    own = tmp_path / "conf.d" / f"{IP_NODE.host}-tls.conf"
    found = run_function(
        tls_site_script(IP_NODE), f"SITE={own}\ndefault_server_elsewhere", tmp_path, [nginx_on_path(tmp_path)]
    )
    return found.stdout.strip()


def test_beside_a_catch_all_nginx_would_refuse_the_site(tmp_path, throwaway_certificate):
    both = nginx_test(
        tmp_path, {"catch-all/tls": CATCH_ALL, f"{IP_NODE.host}/tls": site(IP_NODE)}, throwaway_certificate
    )
    assert both.returncode != 0 and "duplicate default server" in both.stderr


@pytest.mark.parametrize(
    "name, other",
    [
        ("catch-all", CATCH_ALL),
        ("catch-all", CATCH_ALL.replace("listen 443 ssl default_server;", "listen [::]:443 default ssl;")),
        ("203.0.113.11", site(settings_of({**IP_ADDRESS_NODE, "host": "203.0.113.11"}))),  # a second IP node
    ],
)
def test_the_step_finds_another_default_of_443(tmp_path, throwaway_certificate, name, other):
    """Before the node's site is written (`nginx -T` lists nothing of a configuration it rejects)."""
    found = other_default(tmp_path, {f"{name}/tls": other}, throwaway_certificate)
    assert found == str(tmp_path / "conf.d" / f"{name}-tls.conf")


def test_its_own_site_and_name_based_ones_are_no_other_default(tmp_path, throwaway_certificate):
    named = settings_of(MINIMAL)
    sites = {f"{named.domain}/tls": site(named), f"{IP_NODE.host}/tls": site(IP_NODE)}
    assert other_default(tmp_path, sites, throwaway_certificate) == ""


def test_the_step_refuses_before_it_writes_the_site(tmp_path, throwaway_certificate):
    nginx_test(tmp_path, {"catch-all/tls": CATCH_ALL}, throwaway_certificate)
    own = tmp_path / "conf.d" / f"{IP_NODE.host}-tls.conf"
    script = with_test_files(tls_site_script(IP_NODE), IP_NODE.host, throwaway_certificate, tmp_path)
    refused = run_function(
        script, f"SITE={own}\ntake_host_lock() {{ :; }}\nmain", tmp_path, [nginx_on_path(tmp_path)], check=False
    )
    assert refused.returncode != 0
    assert f"the server in {tmp_path}/conf.d/catch-all-tls.conf already is (a catch-all" in refused.stderr
    assert "Nothing was changed" in refused.stderr and not own.exists()


def test_as_the_default_it_answers_no_other_name():
    assert "if ($ssl_server_name) {\n        return 421;" in site(IP_NODE)
    assert "$ssl_server_name" not in site(settings_of(MINIMAL))


def test_a_configuration_nginx_rejects_hides_no_default_and_fails_no_step(tmp_path, throwaway_certificate):
    """`nginx -T` on a broken configuration prints nothing and fails: the search finds nothing
    (nginx -t names the problem later) rather than ending the step under pipefail."""
    nginx_test(
        tmp_path,
        {"catch-all/tls": CATCH_ALL, "broken/tls": "server { listen 443 ssl default_server; }\n"},
        throwaway_certificate,
    )
    own = tmp_path / "conf.d" / f"{IP_NODE.host}-tls.conf"
    found = run_function(
        tls_site_script(IP_NODE), f"SITE={own}\ndefault_server_elsewhere", tmp_path, [nginx_on_path(tmp_path)]
    )
    assert found.stdout == ""


def test_a_long_configuration_is_read_to_its_end(tmp_path, throwaway_certificate):
    """Many sites after the catch-all: nginx is still writing when the default is found."""
    named = {
        f"node{i}.example.com/tls": site(settings_of({**MINIMAL, "domain": f"node{i}.example.com"})) for i in range(40)
    }
    assert other_default(tmp_path, {"catch-all/tls": CATCH_ALL, **named}, throwaway_certificate).endswith(
        "catch-all-tls.conf"
    )
