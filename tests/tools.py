"""The Go programs tools/build makes: a test that needs one and does not find it fails,
naming the command to run, and is never skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TOOLS_BIN = Path(__file__).resolve().parents[1] / "tools" / "bin"


def tool(name: str) -> str:
    path = TOOLS_BIN / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: run tools/build (it builds the Pulumi CLI, its Python language host, pulumi-command's provider and pactus-daemon)")
    return str(path)
