"""The shell that runs on hosts: shellcheck-clean for every distro and option, carrying
exactly the rendered files, and idempotent where it can be run here without a host."""

import grp
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
import tomllib
from pathlib import Path

import pytest

from render import scripts
from render.nginx import render_acme_http_site, render_tls_site
from render.pactus_config import managed_sections, render_managed_sections
from render.templating import render
from tests.configs import FULL, MINIMAL, settings_of
from tests.credentials import BASIC_AUTH, SECRETS

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


def run_function(script: str, function: str, tmp_path: Path, path_dirs=()) -> str:
    """Runs one function of a rendered script instead of its main."""
    body = script.rstrip()
    assert body.endswith('main "$@"')
    env = {**os.environ, "PATH": os.pathsep.join([*map(str, path_dirs), os.environ["PATH"]])}
    result = subprocess.run(
        ["bash", "-c", body[: -len('main "$@"')] + function],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    return result.stdout


def fake_nginx(tmp_path: Path, version: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    nginx = bin_dir / "nginx"
    nginx.write_text(f"#!/bin/sh\necho 'nginx version: nginx/{version}' >&2\n")
    nginx.chmod(nginx.stat().st_mode | stat.S_IEXEC)
    return bin_dir


@pytest.mark.parametrize(
    "version, http2_directive",
    [("1.22.1", False), ("1.24.0", False), ("1.25.1", True), ("1.26.3", True), ("1.18.0", False)],
)
def test_tls_site_script_picks_the_http2_form_of_the_hosts_nginx(tmp_path, version, http2_directive):
    settings = settings_of(FULL)
    out = run_function(scripts.tls_site_script(settings), "render_site", tmp_path, [fake_nginx(tmp_path, version)])
    assert out == render_tls_site(settings, http2_directive=http2_directive)


def test_http_site_script_carries_the_site_byte_for_byte(tmp_path):
    settings = settings_of(FULL)
    assert run_function(scripts.http_site_script(settings), "render_site", tmp_path) == render_acme_http_site(settings)


def test_content_that_would_end_its_heredoc_early_is_refused():
    with pytest.raises(ValueError, match="here-document"):
        scripts._heredoc_body("a\nPACTUS_SECURE_END_OF_FILE\nb\n")
    assert scripts._heredoc_body("no newline at the end") == "no newline at the end\n"


def replace_file(
    tmp_path: Path, produce: str, mode: str = "0644", owner: str = "root:root", check: str = "", undo: str = ""
) -> subprocess.CompletedProcess:
    """Runs the scripts' replace_file on site.conf in tmp_path; PRODUCE, CHECK and UNDO are shell bodies."""
    library = render("scripts/lib/common.sh.j2") + render("scripts/lib/replace_file.sh.j2")
    functions = f"produce() {{ {produce}; }}\ncheck() {{ {check or ':'}; }}\nundo() {{ {undo or ':'}; }}\n"
    call = f"replace_file site.conf {mode} {owner} produce {'check' if check else ''} {'undo' if undo else ''}"
    return subprocess.run(
        ["bash", "-c", f'set -euo pipefail\n{library}\n{functions}{call}\necho "CHANGED=$CHANGED"'],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )


def test_replace_file_writes_once_then_leaves_the_file_alone(tmp_path):
    assert "CHANGED=yes" in replace_file(tmp_path, "echo server").stdout
    assert (tmp_path / "site.conf").read_text() == "server\n"
    again = replace_file(tmp_path, "echo server", check="echo checked")
    assert "CHANGED=no" in again.stdout and "is up to date" in again.stdout and "checked" not in again.stdout


def test_replace_file_mends_mode_and_owner_of_a_file_with_the_right_content(tmp_path):
    (tmp_path / "site.conf").write_text("secret\n")
    (tmp_path / "site.conf").chmod(0o666)
    mended = replace_file(tmp_path, "echo secret", mode="0640", owner="root:nogroup")
    assert "CHANGED=no" in mended.stdout and "set mode and owner to 640 root:nogroup" in mended.stdout
    stat = (tmp_path / "site.conf").stat()
    assert oct(stat.st_mode & 0o777) == "0o640" and grp.getgrgid(stat.st_gid).gr_name == "nogroup"
    assert "is up to date" in replace_file(tmp_path, "echo secret", mode="0640", owner="root:nogroup").stdout


def test_a_failing_producer_never_reaches_the_live_file(tmp_path):
    (tmp_path / "site.conf").write_text("live\n")
    result = replace_file(tmp_path, "echo half; return 3")
    assert result.returncode != 0 and "could not produce site.conf" in result.stderr
    assert (tmp_path / "site.conf").read_text() == "live\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.conf"]


def test_a_failed_check_puts_the_previous_file_back_then_undoes(tmp_path):
    (tmp_path / "site.conf").write_text("live\n")
    (tmp_path / "site.conf").chmod(0o600)
    result = replace_file(
        tmp_path,
        "echo new",
        check='echo "sees $(cat site.conf)"; return 1',
        undo='echo "restarted with $(cat site.conf)"',
    )
    assert result.returncode != 0 and "CHANGED" not in result.stdout
    assert "sees new; the previous site.conf is back and restarted with live" in result.stderr
    assert (tmp_path / "site.conf").read_text() == "live\n" and (tmp_path / "site.conf").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.conf"]


def test_a_failed_check_takes_a_new_file_away_when_there_was_none(tmp_path):
    result = replace_file(tmp_path, "echo new", check="echo no; return 1")
    assert result.returncode != 0 and "no; the new site.conf is removed again (there was none before)" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("before", ["live\n", None])
def test_a_file_a_cut_off_run_left_unchecked_is_checked_though_unchanged_and_put_back(tmp_path, before):
    """The run swapped in "new" and was cut off before its check; the next one renders "new" too."""
    (tmp_path / "site.conf").write_text("new\n")
    if before is None:
        (tmp_path / "site.conf.pactus-secure-none").touch()
    else:
        (tmp_path / "site.conf.pactus-secure-previous").write_text(before)
    result = replace_file(tmp_path, "echo new", check="echo rejected; return 1")
    assert result.returncode != 0 and "did not finish checking it: checking it now" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ([] if before is None else ["site.conf"])
    if before is not None:
        assert (tmp_path / "site.conf").read_text() == before


def test_a_file_a_cut_off_run_left_unchecked_stays_once_its_check_passes(tmp_path):
    (tmp_path / "site.conf").write_text("new\n")
    (tmp_path / "site.conf.pactus-secure-previous").write_text("live\n")
    result = replace_file(tmp_path, "echo new", check="echo reloaded")
    assert result.returncode == 0 and "reloaded\nCHANGED=yes" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.conf"]
    again = replace_file(tmp_path, "echo new", check="echo reloaded")
    assert "CHANGED=no" in again.stdout and "reloaded" not in again.stdout


def test_the_file_before_an_unfinished_change_is_the_one_kept(tmp_path):
    """A second change while the first is unchecked: a failed check goes back to the last checked file."""
    (tmp_path / "site.conf").write_text("first\n")
    (tmp_path / "site.conf.pactus-secure-previous").write_text("live\n")
    result = replace_file(tmp_path, "echo second", check="return 1")
    assert result.returncode != 0 and (tmp_path / "site.conf").read_text() == "live\n"


def test_a_passed_check_keeps_the_new_file_and_says_what_the_check_did(tmp_path):
    (tmp_path / "site.conf").write_text("live\n")
    result = replace_file(tmp_path, "echo new", check="echo reloaded")
    assert result.returncode == 0 and "wrote site.conf\nreloaded\nCHANGED=yes" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.conf"]


def run_pactus_config(settings) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-s"], input=scripts.pactus_config_script(settings), capture_output=True, text=True)


NODE_SECTION = "# the operator's own\n[node]\n  reward_addresses = ['pc1zmine']  # rewards\n\n"


@pytest.fixture
def pactus_dir(tmp_path) -> Path:
    directory = tmp_path / "pactus"
    directory.mkdir()
    (directory / "config.toml").write_text(NODE_SECTION + "[grpc]\n  enable = true\n  listen = '0.0.0.0:50051'\n")
    (directory / "config.toml").chmod(0o640)
    return directory


def backups(directory: Path) -> list[Path]:
    return sorted(directory.glob("config.toml.pactus-secure-backup-*"))


def test_pactus_config_step_merges_backs_up_and_then_changes_nothing(pactus_dir):
    settings = settings_of({**MINIMAL, "pactusDir": str(pactus_dir), "jsonrpc": {"enable": True}})
    config = pactus_dir / "config.toml"
    original = config.read_text()

    first = run_pactus_config(settings)
    assert first.returncode == 0, first.stderr
    assert config.read_text().startswith(NODE_SECTION + "[grpc]\n# managed by pactus-secure")
    assert {k: v for k, v in tomllib.loads(config.read_text()).items() if k != "node"} == managed_sections(settings)
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    (backup,) = backups(pactus_dir)
    assert backup.read_text() == original
    assert "restart the node" in first.stdout

    second = run_pactus_config(settings)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout
    assert sorted(p.name for p in pactus_dir.iterdir()) == sorted(["config.toml", backup.name])


def test_a_node_without_config_toml_gets_the_managed_sections_alone(tmp_path):
    settings = settings_of({**MINIMAL, "pactusDir": str(tmp_path)})
    result = run_pactus_config(settings)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "config.toml").read_text() == render_managed_sections(settings)
    assert stat.S_IMODE((tmp_path / "config.toml").stat().st_mode) == 0o600 and backups(tmp_path) == []


def test_a_file_the_merge_cannot_handle_is_left_untouched_with_the_fix_named(pactus_dir):
    config = pactus_dir / "config.toml"
    config.write_text("grpc.listen = '0.0.0.0:50051'\n[node]\n")
    result = run_pactus_config(settings_of({**MINIMAL, "pactusDir": str(pactus_dir)}))
    assert result.returncode != 0 and "write it as a [grpc] section" in result.stderr
    assert config.read_text() == "grpc.listen = '0.0.0.0:50051'\n[node]\n" and backups(pactus_dir) == []


def test_old_backups_are_pruned_to_the_newest_few(pactus_dir):
    for origin in range(scripts.CONFIG_BACKUPS_KEPT + 3):
        settings = settings_of(
            {
                **MINIMAL,
                "pactusDir": str(pactus_dir),
                "jsonrpc": {"enable": True, "origins": [f"https://o{origin}.example.com"]},
            }
        )
        assert run_pactus_config(settings).returncode == 0
    assert len(backups(pactus_dir)) == scripts.CONFIG_BACKUPS_KEPT


def test_config_toml_carrying_basic_auth_is_readable_by_its_owner_alone(pactus_dir):
    settings = settings_of(
        {**MINIMAL, "pactusDir": str(pactus_dir), "grpc": {"basicAuth": True}},
        secrets={**SECRETS, "basicAuth": BASIC_AUTH},
    )
    result = subprocess.run(
        ["bash", "-s"], input=scripts.pactus_config_script(settings, BASIC_AUTH), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((pactus_dir / "config.toml").stat().st_mode) == 0o600


@pytest.fixture
def node_users_dir():
    """A node's directory owned by an unprivileged user (nobody), in a folder that user can reach."""
    top = Path(tempfile.mkdtemp(dir="/tmp"))
    top.chmod(0o755)
    directory = top / "pactus"
    directory.mkdir()
    os.chown(directory, NOBODY.pw_uid, NOBODY.pw_gid)
    yield directory
    shutil.rmtree(top)


def test_root_never_follows_a_link_the_node_user_planted(node_users_dir):
    """Links for every backup name of the next minutes, and config.toml itself a link: the
    victim, a file of root's, keeps its content and its owner."""
    victim = node_users_dir.parent / "victim"
    victim.write_text("root's own\n")
    config = node_users_dir / "config.toml"
    config.write_text("[grpc]\n  listen = '0.0.0.0:50051'\n")
    os.chown(config, NOBODY.pw_uid, NOBODY.pw_gid)
    now = time.time()
    for second in range(0, 300):
        name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now + second))
        (node_users_dir / f"config.toml.pactus-secure-backup-{name}").symlink_to(victim)
    settings = settings_of({**MINIMAL, "pactusDir": str(node_users_dir), "jsonrpc": {"enable": True}})

    result = run_pactus_config(settings)
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "root's own\n" and victim.stat().st_uid == 0
    assert config.stat().st_uid == NOBODY.pw_uid and not config.is_symlink()
    assert all(p.stat().st_uid == NOBODY.pw_uid for p in node_users_dir.iterdir() if not p.is_symlink())

    config.unlink()
    config.symlink_to(victim)
    refused = run_pactus_config(settings_of({**MINIMAL, "pactusDir": str(node_users_dir)}))
    assert refused.returncode != 0 and "is not a regular file" in refused.stderr
    assert victim.read_text() == "root's own\n" and victim.stat().st_uid == 0


def test_pactus_config_step_refuses_a_missing_working_directory(tmp_path):
    settings = settings_of({**MINIMAL, "pactusDir": str(tmp_path / "absent")})
    result = run_pactus_config(settings)
    assert result.returncode != 0
    assert f"no Pactus working directory at {tmp_path / 'absent'}" in result.stderr


def test_pactus_service_needs_systemd_and_nothing_is_written_without_it(pactus_dir):
    if Path("/run/systemd/system").is_dir():
        pytest.skip("this machine runs systemd; the no-systemd path is what is tested here")
    settings = settings_of({**MINIMAL, "pactusDir": str(pactus_dir), "pactusService": "pactus.service"})
    before = (pactus_dir / "config.toml").read_text()
    result = run_pactus_config(settings)
    assert result.returncode != 0 and "systemd is not running" in result.stderr
    assert (pactus_dir / "config.toml").read_text() == before


@pytest.mark.parametrize(
    "raw, ports",
    [
        ({}, ["22/tcp", "80/tcp", "443/tcp", "21888/tcp"]),
        ({"p2pPort": "21777"}, ["22/tcp", "80/tcp", "443/tcp", "21777/tcp"]),
        (
            {"pactusConfig": {"network": {"listen_addrs": ["/ip4/0.0.0.0/tcp/21900", "/ip6/::/udp/21900/quic-v1"]}}},
            ["22/tcp", "80/tcp", "443/tcp", "21900/tcp", "21900/udp"],
        ),
    ],
)
def test_the_firewall_keeps_the_nodes_peer_to_peer_port_open(raw, ports):
    assert scripts.firewall_ports(settings_of({**MINIMAL, "firewall": "true", **raw})) == ports


def test_a_step_waits_for_another_stacks_step_on_the_same_host(tmp_path):
    """Two stacks on one host: the second step starts once the first lets go of the host lock."""
    os.makedirs("/run/pactus-secure", mode=0o700, exist_ok=True)
    holder = subprocess.Popen(["flock", "/run/pactus-secure/host.lock", "sleep", "2"])
    try:
        time.sleep(0.3)
        started = time.monotonic()
        result = subprocess.run(
            ["bash", "-s"],
            input=scripts.file_remove_script(settings_of(MINIMAL), str(tmp_path / "absent")),
            capture_output=True,
            text=True,
            timeout=60,
        )
        waited = time.monotonic() - started
    finally:
        holder.wait()
    assert result.returncode == 0, result.stderr
    assert "waiting for another pactus-secure step on this host" in result.stdout and waited > 1
