"""A stack's config as Pulumi holds it (full keys, string values, each marked secret or not)
read into Settings and the secrets: the one reader, for the program and for the fleet."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from settings.model import Settings
from settings.parse import object_keys, parse_settings
from settings.problems import NAMESPACE
from settings.secrets import CLOUDFLARE_TOKEN, NAMESPACED

TOKEN_VARIABLE = "CLOUDFLARE_API_TOKEN"  # the Cloudflare provider reads it when cloudflare:apiToken is unset


@dataclass(frozen=True)
class StackValue:
    value: str
    secret: bool


def read_stack_config(
    config: Mapping[str, StackValue], *, stack: str, environ: Mapping[str, str]
) -> tuple[Settings, dict[str, str]]:
    """The Settings, and the secrets that are set (plain: the caller wraps them), or
    SettingsError naming every problem. `environ` is where CLOUDFLARE_API_TOKEN may be."""
    prefix = f"{NAMESPACE}:"
    ours = {key.removeprefix(prefix): item for key, item in config.items() if key.startswith(prefix)}
    hidden = {key for key, item in ours.items() if item.secret}
    # Secrets are read plain only to check their shape; a secret key set in plain text stays
    # among the values, where the settings name it as such.
    secrets = {key: ours[key].value for key in NAMESPACED if key in hidden}
    token = config.get(CLOUDFLARE_TOKEN.name)
    if token is not None and token.value:
        secrets[CLOUDFLARE_TOKEN.name] = token.value
    elif environ.get(TOKEN_VARIABLE):
        secrets[CLOUDFLARE_TOKEN.name] = environ[TOKEN_VARIABLE]
    plain = {CLOUDFLARE_TOKEN.name} if token is not None and token.value and not token.secret else set()
    raw = {key: _value(key, item.value) for key, item in ours.items() if key not in secrets}
    return parse_settings(raw, stack=stack, secrets=secrets, hidden=hidden, plain_secrets=plain), secrets


def _value(key: str, value: str):
    """An object key as the object its JSON holds; anything else, and an object key that is
    not JSON, as the string (the settings then name the key and the shape it needs)."""
    if key in object_keys():
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            pass
    return value
