"""schema/pactus-config.toml, which `pactusConfig` is checked against, holds the sections,
keys and types a real `pactus-daemon init` writes (the daemon tools/build makes)."""

from __future__ import annotations

import subprocess
import tomllib

from settings import MANAGED_SECTIONS, PACTUS_SCHEMA
from tests.tools import tool

TYPES = {bool: "bool", int: "integer", float: "float", str: "string", list: "strings"}


def flatten(table: dict, leaf, prefix: str = "") -> dict[str, str]:
    """Each key path of a TOML table (section.sub.key) with `leaf` of its value."""
    keys = {}
    for name, value in table.items():
        if isinstance(value, dict):
            keys.update(flatten(value, leaf, f"{prefix}{name}."))
        else:
            keys[f"{prefix}{name}"] = leaf(value)
    return keys


def test_the_schema_is_what_a_real_node_writes(tmp_path):
    result = subprocess.run(
        [
            tool("pactus-daemon"),
            "init",
            "-w",
            str(tmp_path / "node"),
            "--testnet",
            "-p",
            "x",
            "--val-num",
            "1",
            "--restore",
            " ".join(["abandon"] * 11 + ["about"]),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (tmp_path / "node" / "config.toml").exists(), result.stdout + result.stderr
    written = tomllib.loads((tmp_path / "node" / "config.toml").read_text())
    real = {
        key: kind
        for key, kind in flatten(written, lambda value: TYPES[type(value)]).items()
        if key.split(".")[0] not in MANAGED_SECTIONS
    }
    levels = {key for key in real if key.startswith("logger.levels.")}
    assert levels and all(real.pop(key) == "string" for key in levels)  # the schema's "*" takes any logger name
    # The schema names the Go integer type Pactus decodes into; the file holds a TOML integer.
    schema = {
        key: "integer" if kind in ("int", "uint32") else kind
        for key, kind in flatten(dict(PACTUS_SCHEMA), str).items()
        if key != "logger.levels.*"
    }
    assert schema == real
    assert set(written) == set(PACTUS_SCHEMA) | set(MANAGED_SECTIONS)
