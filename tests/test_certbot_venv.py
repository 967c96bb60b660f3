"""certbot from PyPI on the host, run on this machine as root: the venv is built from wheels
alone, outside the host's pip configuration; root runs it only where only root could have put
it; and no interrupted or failed install leaves the renewals without a whole certbot.

pip and Python's venv module are stand-ins here (shell functions that lay out a venv), since
the point is what the step does around them; the real install runs on the real servers."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from render.scripts import certificate_script
from testbed.configs import MINIMAL, settings_of
from tests.shell import run_function, venv_paths, whole_venv

SETUP = "VENV_PACKAGES=() SYSTEM_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt\n"
# python3 -I -m venv DIR makes DIR/bin/python, which as pip lays out certbot and logs its arguments.
FAKE_PYTHON = r"""
python3() {
  [ "$2 $3" = "-m venv" ] || { command python3 "$@"; return; }
  mkdir -p "$4/bin"
  cat >"$4/bin/python" <<'PYTHON'
#!/bin/bash
echo "pip $* PIP_CONFIG_FILE=$PIP_CONFIG_FILE" >>"$(dirname "$0")/../../../pip.log"
[ -z "${PIP_FAILS:-}" ] || { echo "ERROR: no matching distribution" >&2; exit 1; }
printf '#!/bin/sh\necho certbot 5.8.0\n' >"$(dirname "$0")/certbot"
chmod 0755 "$(dirname "$0")/certbot"
PYTHON
  chmod 0755 "$4/bin/python"
}
"""


def step() -> str:
    return certificate_script(settings_of({**MINIMAL, "certbot": "pypi"}))


def install(tmp_path: Path, *, fails: bool = False):
    env = "export PIP_FAILS=yes\n" if fails else ""
    setup = f"{SETUP}{venv_paths(tmp_path, tmp_path / 'venv')}\n{FAKE_PYTHON}{env}"
    return run_function(step(), setup + "install_pypi_certbot", tmp_path, check=False)


def wanted(tmp_path: Path) -> Path:
    """The folder the step builds the current pins into."""
    made = install(tmp_path)
    assert made.returncode == 0, made.stderr
    return (tmp_path / "venv").resolve()


def test_a_new_install_links_the_venv_of_its_pins_and_takes_wheels_alone(tmp_path):
    venv = wanted(tmp_path)
    assert re.fullmatch(r"5\.8\.0-[0-9a-f]{16}", venv.name) and venv.parent == tmp_path / "venvs"
    pip = (tmp_path / "pip.log").read_text()
    for argument in (
        "-I -m pip install --isolated",
        "--only-binary :all:",
        "--require-hashes",
        "PIP_CONFIG_FILE=/dev/null",
    ):
        assert argument in pip, pip
    assert (venv / "pactus-secure-requirements.txt").read_text().startswith("# certbot and its acme from PyPI")


def test_the_same_pins_again_change_nothing(tmp_path):
    wanted(tmp_path)
    again = install(tmp_path)
    assert again.returncode == 0 and again.stdout == "", again.stdout
    assert len((tmp_path / "pip.log").read_text().splitlines()) == 1


def test_a_failed_install_keeps_the_venv_in_use(tmp_path):
    before = whole_venv(tmp_path / "venvs" / "5.7.0-0123456789abcdef", "certbot==5.7.0\n")
    (tmp_path / "venv").symlink_to(before)
    failed = install(tmp_path, fails=True)
    assert failed.returncode != 0
    assert "certbot 5.8.0 could not be installed from PyPI" in failed.stderr
    assert re.search(r"this host has Python 3\.\d+ on \w+\); the host's certbot is as before", failed.stderr)
    assert (tmp_path / "venv").resolve() == before and sorted(os.listdir(tmp_path / "venvs")) == [before.name]


def test_an_install_killed_midway_is_built_anew_by_the_next_run(tmp_path):
    """A kill during pip leaves the new venv without its record; the link still names the whole
    one before, so the timer runs a certbot that exists, and the next run finishes the job."""
    before = whole_venv(tmp_path / "venvs" / "5.7.0-0123456789abcdef", "certbot==5.7.0\n")
    (tmp_path / "venv").symlink_to(before)
    half = wanted(tmp_path)
    (half / "pactus-secure-requirements.txt").unlink()
    (tmp_path / "venv").unlink()
    (tmp_path / "venv").symlink_to(before)
    again = install(tmp_path)
    assert f"removed {half}: an interrupted install left it incomplete" in again.stdout, again.stdout
    assert (tmp_path / "venv").resolve() == half and (half / "pactus-secure-requirements.txt").exists()
    assert not before.exists()


def test_an_earlier_versions_swap_killed_after_its_move_is_recovered(tmp_path):
    """pactus-secure before the link built the venv in place, its predecessor moved aside: a
    kill between the two left /opt/certbot missing and /opt/certbot.previous."""
    whole_venv(tmp_path / "venv.previous", "certbot==5.7.0\n")
    venv = wanted(tmp_path)
    assert (tmp_path / "venv").resolve() == venv and not (tmp_path / "venv.previous").exists()


def test_a_venv_an_earlier_version_built_in_place_is_replaced_by_the_link(tmp_path):
    whole_venv(tmp_path / "venv", "certbot==5.7.0\n")
    venv = wanted(tmp_path)
    assert (tmp_path / "venv").is_symlink() and os.listdir(tmp_path / "venvs") == [venv.name]


def test_a_venv_at_opt_certbot_that_is_not_ours_is_left_alone(tmp_path):
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    refused = install(tmp_path)
    assert refused.returncode != 0 and "pactus-secure did not make it" in refused.stderr
    assert (tmp_path / "venv" / "bin").is_dir() and not (tmp_path / "venv").is_symlink()


def test_a_venv_someone_else_could_change_is_built_anew_not_run(tmp_path):
    venv = wanted(tmp_path)
    os.chown(venv / "bin" / "certbot", 65534, 65534)
    again = install(tmp_path)
    assert f"removed {venv}: an interrupted install left it incomplete" in again.stdout
    assert (venv / "bin" / "certbot").stat().st_uid == 0


@pytest.mark.parametrize("change", ["owner", "mode", "link"])
def test_root_builds_no_venv_in_a_folder_another_user_controls(tmp_path, change):
    venvs = tmp_path / "venvs"
    if change == "link":
        (tmp_path / "elsewhere").mkdir()
        venvs.symlink_to(tmp_path / "elsewhere")
    else:
        venvs.mkdir()
        os.chown(venvs, 65534, 0) if change == "owner" else venvs.chmod(0o777)
    refused = install(tmp_path)
    assert refused.returncode != 0 and f"{venvs} " in refused.stderr, refused.stderr
    assert "only root may change it" in refused.stderr or "symbolic link" in refused.stderr
    assert not (tmp_path / "pip.log").exists() and not (tmp_path / "venv").exists()
    if change == "link":
        assert os.listdir(tmp_path / "elsewhere") == []


def lineage(folder: Path, name: str, **plugins: str) -> None:
    folder.mkdir(exist_ok=True)
    lines = ["[renewalparams]", *(f"{key} = {value}" for key, value in plugins.items())]
    (folder / f"{name}.conf").write_text("\n".join(lines) + "\n")


def switch_to_pypi(tmp_path: Path):
    """use_pypi_certbot with the venv's install and the package removal as lines that say they ran."""
    setup = (
        f"{SETUP}RENEWAL_DIR={tmp_path}/renewal RENEWAL_CONF={tmp_path}/renewal/node1.example.com.conf\n"
        'install_pypi_certbot() { echo "venv installed"; }\nis_installed() { return 1; }\n'
    )
    return run_function(step(), setup + 'use_pypi_certbot "asked"', tmp_path, check=False)


def test_other_certificates_that_renew_through_nginx_do_not_stop_the_switch(tmp_path):
    renewal = tmp_path / "renewal"
    lineage(renewal, "node1.example.com", authenticator="webroot")
    lineage(renewal, "shop.example.com", authenticator="nginx", installer="nginx")
    lineage(renewal, "old.example.com", authenticator="standalone", installer="None")
    switched = switch_to_pypi(tmp_path)
    assert switched.returncode == 0 and "venv installed" in switched.stdout, switched.stderr


def test_a_certificate_that_certbot_from_pypi_could_not_renew_refuses_the_switch(tmp_path):
    renewal = tmp_path / "renewal"
    lineage(renewal, "node1.example.com", authenticator="webroot")
    lineage(renewal, "blog.example.com", authenticator="apache", installer="apache")
    lineage(renewal, "api.example.com", authenticator="dns-cloudflare")
    refused = switch_to_pypi(tmp_path)
    assert refused.returncode != 0 and "venv installed" not in refused.stdout
    assert (
        "certbot from PyPI would stop renewing other certificates of this host: api.example.com (authenticator "
        "dns-cloudflare) blog.example.com (authenticator apache) blog.example.com (installer apache); it has "
        "certbot's own plugins and nginx's (webroot, standalone, manual, nginx, null)" in refused.stderr
    ), refused.stderr
    assert "Nothing was changed" in refused.stderr


def test_the_certbot_package_goes_with_its_plugins_and_they_are_recorded_for_the_way_back(tmp_path):
    record = tmp_path / "removed-with.txt"
    setup = (
        f"REMOVED_WITH_CERTBOT={record}\n"
        'dependents() { printf "%s\\n" python3-certbot-nginx python3-certbot-dns-rfc2136; }\n'
        'remove_packages() { echo "removed $*"; }\n'
    )
    removed = run_function(step(), setup + "remove_certbot_package", tmp_path)
    assert "removed certbot python3-certbot-nginx python3-certbot-dns-rfc2136" in removed.stdout
    assert record.read_text() == "python3-certbot-nginx\npython3-certbot-dns-rfc2136\n"
