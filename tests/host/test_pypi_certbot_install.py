"""certbot from PyPI installed for real on this machine (real venv, real pip from PyPI, as
root), into a venvs folder of the test's own: an install killed in the middle of pip leaves
the link on the venv before it, and the next run finishes the job."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from render.scripts import certificate_script
from testbed.configs import MINIMAL, settings_of
from tests.shell import venv_paths, whole_venv

pytestmark = pytest.mark.host
SETUP = "load_family\nensure_packages() { :; }\n"  # python3-venv is this machine's already


def install_step(tmp_path: Path) -> list[str]:
    body = certificate_script(settings_of({**MINIMAL, "certbot": "pypi"})).rstrip().removesuffix('main "$@"')
    script = body + f"{venv_paths(tmp_path, tmp_path / 'venv')}\n{SETUP}install_pypi_certbot\n"
    return ["bash", "-c", script]


def test_an_install_killed_during_pip_leaves_the_link_whole_and_the_next_run_finishes(tmp_path):
    before = whole_venv(tmp_path / "venvs" / "5.7.0-0123456789abcdef", "certbot==5.7.0\n")
    (tmp_path / "venv").symlink_to(before)
    run = subprocess.Popen(
        install_step(tmp_path),
        cwd=tmp_path,
        start_new_session=True,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while not list((tmp_path / "venvs").glob("5.8.0-*/lib/python3*/site-packages/pip")):
        assert run.poll() is None and time.monotonic() < deadline, run.communicate()[0]
        time.sleep(0.2)
    time.sleep(1)  # pip is fetching and installing
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    (half,) = (tmp_path / "venvs").glob("5.8.0-*")
    assert not (half / "pactus-secure-requirements.txt").exists()
    assert (tmp_path / "venv").resolve() == before and (tmp_path / "venv" / "bin" / "certbot").exists()

    again = subprocess.run(install_step(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"removed {half}: an interrupted install left it incomplete" in again.stdout
    assert (tmp_path / "venv").resolve() == half and not before.exists()
    version = subprocess.run([str(tmp_path / "venv" / "bin" / "certbot"), "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == "certbot 5.8.0"
