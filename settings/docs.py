"""Pulumi.yaml's config declarations and README's table of keys, both made from
settings/model.py and settings/secrets.py. `python -m settings.docs` rewrites them;
tests/test_settings.py fails while either differs from what this makes."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_type_hints

from settings.model import REQUIRED, Setting, Settings
from settings.parse import keys, object_keys
from settings.problems import NAMESPACE
from settings.secrets import SECRETS

ROOT = Path(__file__).resolve().parent.parent
PULUMI_YAML = ROOT / "Pulumi.yaml"
README = ROOT / "README.md"
TABLE_START = "<!-- the keys: made by `python -m settings.docs` from settings/model.py -->"
TABLE_END = "<!-- end of the keys -->"

_PULUMI_YAML_HEAD = """\
name: pactus-secure
description: Puts a Pactus node's gRPC, JSON-RPC and HTTP APIs behind Nginx with a Let's Encrypt certificate.
runtime:
  name: python
  options:
    toolchain: pip
    virtualenv: venv
# Local state by default, no account needed: `pulumi login 'file://~?metadata=skip'` (see README).

# Made by `python -m settings.docs` from settings/model.py, where each key is declared;
# README's "Stack config" has the same in a table. One node per stack. Optional keys
# default to "", meaning "not set". Object keys cannot be declared here; they are:
"""


def _settings(cls: type = Settings, prefix: str = "") -> Iterator[tuple[str, Setting, type | None]]:
    """(config key, its declaration, the class of its fields if it is an object), depth first."""
    types = get_type_hints(cls)
    for key, field in keys(cls).items():
        spec = field.metadata["setting"]
        section = types[field.name] if spec.check is None else None
        yield prefix + key, spec, section
        if section is not None:
            yield from _settings(section, f"{prefix}{key}.")


def _pulumi_type(default: Any) -> str:
    return "boolean" if isinstance(default, bool) else "integer" if isinstance(default, int) else "string"


def _default(spec: Setting, section: type | None) -> Any:
    """A key's default as the stack file would hold it; an object's from its fields'."""
    if section is None:
        return spec.default
    return {key: _default(field.metadata["setting"], None) for key, field in keys(section).items()}


def pulumi_yaml() -> str:
    lines = [_PULUMI_YAML_HEAD.rstrip("\n")]
    objects, top = object_keys(), list(_settings_top())
    width = max(len(key) for key in objects)
    for key, spec, section in top:
        if key in objects:
            shown = json.dumps(_default(spec, section)).replace('": ', ": ").replace('{"', "{").replace(', "', ", ")
            lines.append(f"#   {key:<{width}}  {shown}")
    lines.append("# Set their fields with `pulumi config set --path jsonrpc.enable true` and the like.")
    lines.append("config:")
    for key, spec, _section in top:
        if key in objects:
            continue
        lines.append(f"  {NAMESPACE}:{key}:")
        lines.append(f"    type: {_pulumi_type(spec.default)}")
        lines.append(f"    description: {json.dumps(_sentence(spec.help))}")
        if spec.default is not REQUIRED:
            lines.append(f"    default: {json.dumps('' if spec.default is None else spec.default)}")
    for secret in SECRETS:
        if ":" in secret.name:
            continue  # another provider's key: that provider declares it
        lines.append(f"  {NAMESPACE}:{secret.name}:")
        lines.append("    type: string")
        if secret.required:
            lines.append("    secret: true")
            lines.append(f"    description: {json.dumps(_sentence(secret.help))}")
        else:
            # The CLI cannot demand encryption of a key that has a default: the program refuses a plain one.
            lines.append(f"    description: {json.dumps(_sentence('set it with --secret; ' + secret.help))}")
            lines.append('    default: ""')
    return "\n".join(lines) + "\n"


def _settings_top() -> Iterator[tuple[str, Setting, type | None]]:
    return ((key, spec, section) for key, spec, section in _settings() if "." not in key)


def readme_table() -> str:
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    for key, spec, section in _settings():
        if section is not None:
            continue  # its fields have rows of their own
        rows.append(f"| `{key}` | {_shown_default(spec)} | {spec.help} |")
    for secret in SECRETS:
        required = "required" if secret.required else f"required if {secret.when}" if secret.when else "optional"
        rows.append(f"| `{secret.name}` | {required}, secret | {secret.help} |")
    return "\n".join([TABLE_START, *rows, TABLE_END])


def _shown_default(spec: Setting) -> str:
    if spec.shown_default is not None:
        return spec.shown_default
    if spec.default is REQUIRED:
        return "required"
    if spec.default is None:
        return "none"
    return f"`{json.dumps(spec.default) if not isinstance(spec.default, str) or spec.default == '' else spec.default}`"


def _sentence(help: str) -> str:
    text = help[0].upper() + help[1:]
    return text if text.endswith(".") else text + "."


def readme_with_table(readme: str) -> str:
    pattern = re.compile(re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END), re.S)
    if not pattern.search(readme):
        raise ValueError(f"README.md has no table between {TABLE_START} and {TABLE_END}")
    return pattern.sub(lambda _: readme_table(), readme)


def main() -> int:
    PULUMI_YAML.write_text(pulumi_yaml())
    README.write_text(readme_with_table(README.read_text()))
    print(f"wrote {PULUMI_YAML.name} and the table in {README.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
