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
