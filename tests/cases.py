"""The case files of tests/merge_cases and tests/nginx_cases: a description, then parts,
each under a line `=== <name>` (the input, the whole expected output, ...)."""

from __future__ import annotations

from pathlib import Path


def parse_case(path: Path) -> dict[str, str]:
    parts, name = {}, "description"
    for line in path.read_text().splitlines(keepends=True):
        if line.startswith("=== "):
            name = line[4:].strip()
            parts[name] = ""
        else:
            parts[name] = parts.get(name, "") + line
    return parts
