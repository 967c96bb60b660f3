"""The Go programs tools/build makes, found where it puts them."""

from __future__ import annotations

import os

from fleet.run import TOOLS_BIN


class ToolMissing(RuntimeError):
    pass


def tool(name: str) -> str:
    path = TOOLS_BIN / name
    if not os.access(path, os.X_OK):
        raise ToolMissing(
            f"{path} is missing: run tools/build (it builds the Pulumi CLI, its Python language host, "
            "pulumi-command's provider and pactus-daemon)"
        )
    return str(path)
