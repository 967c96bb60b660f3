"""The config.toml step run on this machine: the merge backed up and idempotent, the
file's owner and mode kept, links planted by the node's user never followed."""

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
from render.pactus_config import managed_sections, render_managed_sections
from testbed.configs import MINIMAL, settings_of
from testbed.credentials import BASIC_AUTH, SECRETS

NOBODY = pwd.getpwnam("nobody")


def run_pactus_config(settings) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-s"], input=scripts.pactus_config_script(settings), capture_output=True, text=True)


NODE_SECTION = "# the operator's own\n[node]\n  reward_addresses = ['pc1zmine']  # rewards\n\n"


@pytest.fixture
def configured_pactus_dir(tmp_path) -> Path:
    directory = tmp_path / "pactus"
    directory.mkdir()
    (directory / "config.toml").write_text(NODE_SECTION + "[grpc]\n  enable = true\n  listen = '0.0.0.0:50051'\n")
    (directory / "config.toml").chmod(0o640)
    return directory


def backups(directory: Path) -> list[Path]:
    return sorted(directory.glob("config.toml.pactus-secure-backup-*"))


def test_pactus_config_step_merges_backs_up_and_then_changes_nothing(configured_pactus_dir):
    settings = settings_of({**MINIMAL, "pactusDir": str(configured_pactus_dir), "jsonrpc": {"enable": True}})
    config = configured_pactus_dir / "config.toml"
    original = config.read_text()

    first = run_pactus_config(settings)
    assert first.returncode == 0, first.stderr
    assert config.read_text().startswith(NODE_SECTION + "[grpc]\n# managed by pactus-secure")
    assert {k: v for k, v in tomllib.loads(config.read_text()).items() if k != "node"} == managed_sections(settings)
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    (backup,) = backups(configured_pactus_dir)
    assert backup.read_text() == original
    assert "restart the node" in first.stdout

    second = run_pactus_config(settings)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout
    assert sorted(p.name for p in configured_pactus_dir.iterdir()) == sorted(["config.toml", backup.name])


def test_a_node_without_config_toml_gets_the_managed_sections_alone(tmp_path):
    settings = settings_of({**MINIMAL, "pactusDir": str(tmp_path)})
    result = run_pactus_config(settings)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "config.toml").read_text() == render_managed_sections(settings)
    assert stat.S_IMODE((tmp_path / "config.toml").stat().st_mode) == 0o600 and backups(tmp_path) == []


def test_a_file_the_merge_cannot_handle_is_left_untouched_with_the_fix_named(configured_pactus_dir):
    config = configured_pactus_dir / "config.toml"
    config.write_text("grpc.listen = '0.0.0.0:50051'\n[node]\n")
    result = run_pactus_config(settings_of({**MINIMAL, "pactusDir": str(configured_pactus_dir)}))
    assert result.returncode != 0 and "write it as a [grpc] section" in result.stderr
    assert config.read_text() == "grpc.listen = '0.0.0.0:50051'\n[node]\n" and backups(configured_pactus_dir) == []


def test_old_backups_are_pruned_to_the_newest_few(configured_pactus_dir):
    for origin in range(scripts.CONFIG_BACKUPS_KEPT + 3):
        settings = settings_of(
            {
                **MINIMAL,
                "pactusDir": str(configured_pactus_dir),
                "jsonrpc": {"enable": True, "origins": [f"https://o{origin}.example.com"]},
            }
        )
        assert run_pactus_config(settings).returncode == 0
    assert len(backups(configured_pactus_dir)) == scripts.CONFIG_BACKUPS_KEPT


def test_config_toml_carrying_basic_auth_is_readable_by_its_owner_alone(configured_pactus_dir):
    settings = settings_of(
        {**MINIMAL, "pactusDir": str(configured_pactus_dir), "grpc": {"basicAuth": True}},
        secrets={**SECRETS, "basicAuth": BASIC_AUTH},
    )
    result = subprocess.run(
        ["bash", "-s"], input=scripts.pactus_config_script(settings, BASIC_AUTH), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((configured_pactus_dir / "config.toml").stat().st_mode) == 0o600


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


def test_pactus_service_needs_systemd_and_nothing_is_written_without_it(configured_pactus_dir):
    if Path("/run/systemd/system").is_dir():
        pytest.skip("this machine runs systemd; the no-systemd path is what is tested here")
    settings = settings_of({**MINIMAL, "pactusDir": str(configured_pactus_dir), "pactusService": "pactus.service"})
    before = (configured_pactus_dir / "config.toml").read_text()
    result = run_pactus_config(settings)
    assert result.returncode != 0 and "systemd is not running" in result.stderr
    assert (configured_pactus_dir / "config.toml").read_text() == before
