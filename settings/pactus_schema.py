"""`pactusConfig` checked against Pactus's own config.toml schema (schema/pactus-config.toml):
a key or type Pactus would reject is refused before anything reaches a host."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from settings.checks import text
from settings.constants import MANAGED_SECTIONS
from settings.problems import Problems

# The config.toml sections `pactusConfig` may carry, their keys and types (schema/pactus-config.toml).
PACTUS_SCHEMA: Mapping[str, Any] = tomllib.loads(
    (Path(__file__).resolve().parent.parent / "schema" / "pactus-config.toml").read_text()
)


def pactus_config(key: str, value: Any, problems: Problems) -> Mapping[str, Any] | None:
    """Sections of config.toml as Pactus decodes them: a key or type it would reject is refused here."""
    if not isinstance(value, Mapping):
        problems.add(
            key,
            value,
            "must be an object of config.toml sections, not TOML text: in the stack file as YAML, e.g. "
            "{node: {reward_addresses: [...]}}, or "
            "`pulumi config set --path pactusConfig.node.reward_addresses[0] pc1...`",
        )
        return None
    for section, table in value.items():
        path = f"{key}.{section}"
        if section in MANAGED_SECTIONS:
            problems.add(path, table, f"is written from the key {section}: set `{section}` instead")
        elif section not in PACTUS_SCHEMA:
            problems.add(
                path,
                table,
                f"is not a section of Pactus v1.16's config.toml; the sections are {', '.join(PACTUS_SCHEMA)}",
            )
        else:
            _check_table(path, table, PACTUS_SCHEMA[section], problems)
    return value


def _check_table(path: str, table: Any, schema: Mapping[str, Any], problems: Problems) -> None:
    if not isinstance(table, Mapping):
        problems.add(path, table, "must be a table of keys")
        return
    for name, item in table.items():
        expected = schema.get(name, schema.get("*"))
        strings = (
            [item]
            if isinstance(item, str)
            else [i for i in item if isinstance(i, str)]
            if isinstance(item, list)
            else []
        )
        if text(f"{path}.{name}", str(name), problems) is None or any(
            text(f"{path}.{name}", string, problems) is None for string in strings
        ):
            continue  # the same limits as every other string: no control characters, 1024 at most
        if any("'''" in string or '"""' in string for string in strings):
            problems.add(
                f"{path}.{name}",
                item,
                "may not hold ''' or \"\"\": the merge on the host would read "
                "them as the start of a multi-line string and refuse the file",
            )
            continue
        if expected is None:
            problems.add(
                f"{path}.{name}",
                item,
                f"Pactus has no such key, and would set the whole file aside; "
                f"the keys here are {', '.join(k for k in schema if k != '*')}",
            )
        elif isinstance(expected, Mapping):
            _check_table(f"{path}.{name}", item, expected, problems)
        elif not _PACTUS_TYPES[expected](item):
            problems.add(f"{path}.{name}", item, f"must be {_PACTUS_TYPE_NAMES[expected]}, as Pactus reads it")
        elif path.endswith("zeromq") and name.startswith("zmqpub") and item and not _ZMQ_LOOPBACK.fullmatch(item):
            problems.add(
                f"{path}.{name}",
                item,
                "must be a tcp:// address on loopback, e.g. tcp://127.0.0.1:28332: "
                "Nginx is the only public entry to the node",
            )


_PACTUS_TYPES: dict[str, Callable[[Any], bool]] = {
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63,
    "uint32": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**32,
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "strings": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
}
_PACTUS_TYPE_NAMES = {
    "bool": "true or false",
    "int": "a whole number from -2^63 to 2^63-1",
    "uint32": "a whole number from 0 to 2^32-1",
    "float": "a number",
    "string": "a string",
    "strings": "a list of strings",
}
_ZMQ_LOOPBACK = re.compile(r"tcp://(127\.0\.0\.1|\[::1\]|localhost):\d{1,5}")
