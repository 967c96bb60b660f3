"""Fixtures more than one test module uses."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from render.host_layout import HOST_LOCK_DIR
from testbed.certificates import self_signed
from testbed.stack import cli_environment, pulumi_home
from testbed.this_machine import given_back
from testbed.tools import ToolMissing

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def host_lock_given_back():
    """A step a test runs here takes the host lock as on a host: its folder goes again after."""
    with given_back((HOST_LOCK_DIR,)):
        yield


@pytest.fixture(scope="module")
def throwaway_certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for nginx -t to load in place of Let's Encrypt's files."""
    directory = tmp_path_factory.mktemp("certificate")
    certificate, key = directory / "fullchain.pem", directory / "privkey.pem"
    self_signed(certificate, key, name="test", days=1)
    return certificate, key


@pytest.fixture
def project_copy(tmp_path, monkeypatch) -> Path:
    """A copy of the project (stack files never land in the tree), a file backend and a PULUMI_HOME of its own."""
    copy = tmp_path / "project"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("venv", "tools", ".git", "__pycache__", ".pytest_cache"))
    (copy / "venv").symlink_to(ROOT / "venv")
    (tmp_path / "state").mkdir()
    try:
        home = pulumi_home(tmp_path / "home")
    except ToolMissing as missing:
        pytest.fail(str(missing))
    for name, value in cli_environment(home, tmp_path / "state").items():
        monkeypatch.setenv(name, value)
    return copy
