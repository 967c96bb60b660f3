"""The shell that runs on hosts: shellcheck-clean and strict for every distro and option,
and carrying exactly the rendered files. Each step's own behaviour has its own file:
test_replace_file.py, test_pactus_config_step.py, test_firewall.py, test_host_lock.py."""

import pwd
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from render import scripts
from render.nginx import render_acme_http_site, render_tls_site
from testbed.configs import FULL, MINIMAL, settings_of
from testbed.credentials import BASIC_AUTH, SECRETS
from tests.shell import run_function

ROOT = Path(__file__).resolve().parent.parent
SHELLCHECK = shutil.which("shellcheck") or "shellcheck"  # .ci/run installs it
NOBODY = pwd.getpwnam("nobody")


VARIANTS = {
    f"{distro}-{name}": settings_of({**raw, "distro": distro}, secrets={**SECRETS, "basicAuth": BASIC_AUTH})
    for distro in ("auto", "debian", "redhat", "arch")
    for name, raw in (
        ("minimal", MINIMAL),
        ("full", FULL),
        (
            "private-acme",
            {
                **MINIMAL,
                "acmeServer": "https://127.0.0.1:14000/dir",
                "acmeCaBundle": "/etc/pebble/ca.pem",
                "acmeProfile": "shortlived",
                "sshUser": "deploy",
                "pactusService": "pactus-mainnet.service",
            },
        ),
        ("locked-down", {**FULL, "firewall": "true", "grpc": {"basicAuth": True}}),
    )
}


def all_scripts(settings):
    return {
        "basic-auth": scripts.basic_auth_script(settings, BASIC_AUTH),
        "file-remove": scripts.file_remove_script(settings, "/etc/nginx/pactus-secure-x.htpasswd"),
        "firewall": scripts.firewall_script(settings),
        "host-setup": scripts.host_setup_script(settings),
        "http-site": scripts.http_site_script(settings),
        "tls-site": scripts.tls_site_script(settings),
        "site-remove": scripts.site_remove_script(settings, "/etc/nginx/conf.d/pactus-secure-x-tls.conf"),
        "certificate": scripts.certificate_script(settings),
        "pactus-config": scripts.pactus_config_script(settings, BASIC_AUTH),
    }


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_script_passes_shellcheck(tmp_path, variant):
    """With the project's .shellcheckrc beside them, as shellcheck finds it next to a script."""
    shutil.copy(ROOT / ".shellcheckrc", tmp_path)
    paths = []
    for name, text in all_scripts(VARIANTS[variant]).items():
        path = tmp_path / f"{name}.sh"
        path.write_text(text)
        paths.append(str(path))
    result = subprocess.run([SHELLCHECK, *paths], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_the_renewal_hook_passes_shellcheck_as_the_sh_script_it_is(tmp_path):
    shutil.copy(ROOT / ".shellcheckrc", tmp_path)
    hook = tmp_path / "renew-hook"
    hook.write_text(scripts.host_file("renew-hook.sh"))
    assert hook.read_text().startswith("#!/bin/sh\n")
    result = subprocess.run([SHELLCHECK, str(hook)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_script_is_strict_bash_run_through_its_main(variant):
    for name, text in all_scripts(VARIANTS[variant]).items():
        assert text.startswith("#!/usr/bin/env bash\n"), name
        assert "\nset -euo pipefail\n" in text, name
        assert text.rstrip().endswith('main "$@"'), name


def fake_nginx(tmp_path: Path, version: str, njs_loaded: bool = False) -> Path:
    """An nginx that says its version and its configuration folder (-v, -V), where a
    load_module line loads njs or none does, as Debian's modules-enabled holds it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    modules = tmp_path / "etc" / "nginx" / "modules-enabled"
    modules.mkdir(parents=True)
    if njs_loaded:
        (modules / "50-mod-http-js.conf").write_text("load_module modules/ngx_http_js_module.so;\n")
    (modules / "50-mod-stream.conf").write_text("load_module modules/ngx_stream_module.so;\n")
    nginx = bin_dir / "nginx"
    nginx.write_text(
        f"#!/bin/sh\necho 'nginx version: nginx/{version}' >&2\n"
        f'[ "$1" = -V ] && echo "configure arguments: --with-cc-opt=-O2 --conf-path={modules.parent}/nginx.conf '
        '--add-dynamic-module=/build/njs" >&2\nexit 0\n'
    )
    nginx.chmod(nginx.stat().st_mode | stat.S_IEXEC)
    return bin_dir


@pytest.mark.parametrize(
    "version, http2_directive",
    [("1.22.1", False), ("1.24.0", False), ("1.25.1", True), ("1.26.3", True), ("1.18.0", False)],
)
@pytest.mark.parametrize("njs", [True, False])
def test_tls_site_script_picks_the_form_the_hosts_nginx_takes(tmp_path, version, http2_directive, njs):
    """The http2 form of its version, and the JSON-RPC guard where njs is loaded."""
    settings = settings_of(FULL)
    out = run_function(
        scripts.tls_site_script(settings), "render_site", tmp_path, [fake_nginx(tmp_path, version, njs)]
    ).stdout
    assert out == render_tls_site(settings, http2_directive=http2_directive, njs=njs)
    assert ("js_content pactus_secure_jsonrpc.guard;" in out) is njs


def test_without_a_method_to_refuse_the_site_never_asks_for_njs(tmp_path):
    settings = settings_of({**FULL, "exposeSignMessageWithPrivateKey": "true"})
    script = scripts.tls_site_script(settings)
    assert "nginx_runs_njs" not in script and "js_import" not in script
    assert "install_guard" not in script and "nginx_runs_njs" not in scripts.host_setup_script(settings)


def test_http_site_script_carries_the_site_byte_for_byte(tmp_path):
    settings = settings_of(FULL)
    assert run_function(scripts.http_site_script(settings), "render_site", tmp_path).stdout == render_acme_http_site(
        settings
    )


def test_content_that_would_end_its_heredoc_early_is_refused():
    with pytest.raises(ValueError, match="here-document"):
        scripts._heredoc_body("a\nPACTUS_SECURE_END_OF_FILE\nb\n")
    assert scripts._heredoc_body("no newline at the end") == "no newline at the end\n"
