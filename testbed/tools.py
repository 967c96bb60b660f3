"""The Go programs the tests, the benchmarks and the demo run: tools/build's, else the ones on
PATH (a Pulumi CLI from Pulumi's installer, a pactus-daemon from Pactus's releases), and
pulumi-command's provider, else the one `pulumi plugin install` put in the user's PULUMI_HOME
(docs/tools.md)."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
from pathlib import Path

from fleet.run import TOOLS_BIN

PROVIDER_VERSION = importlib.metadata.version("pulumi_command")  # the SDK's, pinned in requirements.txt
BUILT_PROVIDER = TOOLS_BIN / "plugins" / "pulumi-resource-command"


class ToolMissing(RuntimeError):
    pass


def tool(name: str) -> str:
    built = TOOLS_BIN / name
    if os.access(built, os.X_OK):
        return str(built)
    found = shutil.which(name)
    if found is None:
        raise ToolMissing(
            f"{name} is neither in {TOOLS_BIN} nor on PATH: run tools/build (it builds the Pulumi CLI, its Python "
            "language host, pulumi-command's provider, pactus-daemon and pebble), or install it (docs/tools.md)"
        )
    return found


def provider() -> Path:
    """pulumi-command's provider binary: tools/build's, else the user's installed plugin."""
    if os.access(BUILT_PROVIDER, os.X_OK):
        return BUILT_PROVIDER
    home = Path(os.environ.get("PULUMI_HOME") or Path.home() / ".pulumi")
    installed = home / "plugins" / f"resource-command-v{PROVIDER_VERSION}" / "pulumi-resource-command"
    if not os.access(installed, os.X_OK):
        raise ToolMissing(
            f"pulumi-command's provider {PROVIDER_VERSION} is neither in {BUILT_PROVIDER.parent} nor in {home}: "
            f"run tools/build, or `pulumi plugin install resource command {PROVIDER_VERSION}`"
        )
    return installed
