"""Raw stack values in, `Settings` out: each key read and checked as settings/model.py declares
it, then the rules between keys (settings/rules.py). Every problem of a config is reported at
once, one per key."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Collection, Mapping
from typing import Any, get_type_hints

from settings.model import REQUIRED, Settings, camel
from settings.problems import Problems, SettingsError
from settings.rules import check_rules
from settings.secrets import (
    BASIC_AUTH,
    CLOUDFLARE_TOKEN,
    NAMESPACED,
    SSH_PRIVATE_KEY,
    check_basic_auth,
    check_ssh_private_key,
)


@functools.cache
def keys(cls: type = Settings) -> dict[str, dataclasses.Field]:
    """The config keys of a settings class, by their config names."""
    return {camel(f.name): f for f in dataclasses.fields(cls) if "setting" in f.metadata}


@functools.cache
def object_keys() -> frozenset[str]:
    """The keys whose values are objects (or lists): the stack file holds them as JSON."""
    return frozenset(
        key
        for key, field in keys().items()
        if field.metadata["setting"].check is None or isinstance(field.metadata["setting"].default, (dict, list))
    )


def parse_settings(
    raw: Mapping[str, Any],
    *,
    stack: str,
    secrets: Mapping[str, str],
    hidden: Collection[str] = (),
    plain_secrets: Collection[str] = (),
) -> Settings:
    """Turn raw stack values into Settings, or raise SettingsError naming every problem.

    `raw`: the values set in the namespace, strings as `pulumi config set` stores them or
    objects. `secrets`: the secrets that are set (settings/secrets.py), read here only to
    check their shape. `hidden`: keys set with --secret, whose values a problem never shows.
    `plain_secrets`: secrets outside the namespace (cloudflare:apiToken) set without --secret."""
    problems = Problems({*hidden, *NAMESPACED, CLOUDFLARE_TOKEN.name})
    for name in sorted(plain_secrets):
        problems.add(
            name,
            name,
            f"set in plain text, so it sits unencrypted in the stack file and the state: "
            f"`pulumi config rm {name}`, then `pulumi config set --secret {name} <value>`",
            outside_namespace=True,
        )
    values = {k: v for k, v in raw.items() if v is not None and v != ""}
    known = keys()
    for key in sorted(set(values) - set(known)):
        problems.add(
            key,
            values[key],
            f"holds a secret: set it with `pulumi config set --secret {key}`"
            if key in NAMESPACED
            else f"unknown key; the keys are {', '.join(sorted([*known, *NAMESPACED]))}",
        )
    if SSH_PRIVATE_KEY.name not in values:  # set in plain text: reported above as such
        check_ssh_private_key(secrets.get(SSH_PRIVATE_KEY.name), problems)
    check_basic_auth(secrets.get(BASIC_AUTH.name), problems)

    settings = Settings(
        stack=stack, credential_set=secrets.get(BASIC_AUTH.name) is not None, **_read(Settings, values, "", problems)
    )
    settings = dataclasses.replace(settings, ssh_host=settings.ssh_host or settings.host)
    check_rules(settings, secrets, problems)
    if problems.items:
        raise SettingsError(problems.items)
    return settings


def _read(cls: type, given: Mapping[str, Any], prefix: str, problems: Problems) -> dict[str, Any]:
    """The fields of `cls` from `given`, each checked; a section becomes its own class."""
    types = get_type_hints(cls)
    read: dict[str, Any] = {}
    for key, field in keys(cls).items():
        spec, path = field.metadata["setting"], prefix + key
        value = given.get(key)
        if spec.check is None:
            section = types[field.name]
            if value is None:
                value = {}
            elif not isinstance(value, Mapping):
                problems.add(
                    path,
                    value,
                    f"must be an object with the fields {', '.join(keys(section))}, "
                    f"e.g. `pulumi config set --path {path}.{next(iter(keys(section)))} <value>`",
                )
                value = {}
            for unknown in sorted(set(value) - set(keys(section))):
                problems.add(
                    f"{path}.{unknown}", value[unknown], f"unknown field; {path} has {', '.join(keys(section))}"
                )
            read[field.name] = section(**_read(section, value, f"{path}.", problems))
            continue
        if value is None:
            value = spec.default
        if value is REQUIRED:
            problems.add(path, None, f"required: `pulumi config set {path} <value>`")
            value = None
        read[field.name] = None if value is None else spec.check(path, value, problems)
    return read
