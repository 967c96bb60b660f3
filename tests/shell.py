"""Running part of a rendered host script on this machine."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def run_function(script: str, function: str, tmp_path: Path, path_dirs=(), check: bool = True):
    """Runs `function` (any shell, after the script's definitions) instead of the script's main."""
    body = script.rstrip()
    assert body.endswith('main "$@"')
    env = {**os.environ, "PATH": os.pathsep.join([*map(str, path_dirs), os.environ["PATH"]])}
    return subprocess.run(
        ["bash", "-c", body[: -len('main "$@"')] + function],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=check,
    )


def venv_paths(tmp_path: Path, venv: Path) -> str:
    """Shell that points a certificate step at a venv link and a venvs folder under tmp_path."""
    return (
        f"CERTBOT_VENV={venv} CERTBOT_VENVS={tmp_path}/venvs PYPI_CERTBOT_RECORD={venv}/pactus-secure-requirements.txt"
    )


def whole_venv(folder: Path, requirements: str) -> Path:
    """A venv as a finished install leaves it: its certbot, and the record written last."""
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "certbot").write_text("#!/bin/sh\necho certbot 5.8.0\n")
    (folder / "bin" / "certbot").chmod(0o755)
    (folder / "pactus-secure-requirements.txt").write_text(requirements)
    return folder
