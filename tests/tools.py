"""The Go programs tools/build makes: a test that needs one and does not find it fails,
naming the command to run, and is never skipped."""

from __future__ import annotations

import pytest

from testbed import tools


def tool(name: str) -> str:
    try:
        return tools.tool(name)
    except tools.ToolMissing as missing:
        pytest.fail(str(missing))
