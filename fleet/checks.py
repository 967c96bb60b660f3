"""What the fleet command checks before any stack runs: no two stacks fight over one
server's files, and every stack's settings pass (the key named, no host touched)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from pulumi import automation as auto

from settings import CLOUDFLARE_TOKEN, NAMESPACE, SettingsError, parse_settings
from settings.parse import object_keys
from settings.secrets import NAMESPACED

DEFAULT_PACTUS_DIR = "/root/pactus"


def clashes(configs: Mapping[str, Mapping[str, auto.ConfigValue]]) -> list[str]:
    """Two stacks on one host take turns under its lock; but one domain, or one pactusDir on
    one sshHost, would be two owners of the same files."""
    problems = []
    owners: dict[tuple, str] = {}
    for stack, config in sorted(configs.items()):
        value = {key.removeprefix(f"{NAMESPACE}:"): item.value for key, item in config.items()}
        host = value.get("sshHost") or value.get("host")
        for claim, what in (
            ((("domain", value.get("domain"))), f"domain {value.get('domain')}"),
            (
                ("dir", host, value.get("pactusDir") or DEFAULT_PACTUS_DIR),
                f"pactusDir {value.get('pactusDir') or DEFAULT_PACTUS_DIR} on {host}",
            ),
        ):
            if None in claim:
                continue
            if claim in owners:
                problems.append(f"stacks {owners[claim]} and {stack} share {what}: give each its own")
            else:
                owners[claim] = stack
    return problems


def settings_problems(configs: Mapping[str, Mapping[str, auto.ConfigValue]]) -> list[str]:
    """Each stack's config through the program's own checks, as its preview would run them."""
    problems = []
    for stack, config in sorted(configs.items()):
        raw, secrets, hidden = {}, {}, set()
        for key, item in config.items():
            if key == "cloudflare:apiToken":
                secrets[CLOUDFLARE_TOKEN.name] = item.value
            if not key.startswith(f"{NAMESPACE}:"):
                continue
            name = key.removeprefix(f"{NAMESPACE}:")
            if item.secret:
                hidden.add(name)
            if name in NAMESPACED and item.secret:
                secrets[name] = item.value
            else:
                raw[name] = json.loads(item.value) if name in object_keys() else item.value
        try:
            parse_settings(raw, stack=stack, secrets=secrets, hidden=hidden)
        except SettingsError as error:
            problems += [f"{stack}: {problem}" for problem in error.problems]
    return problems
