"""The sections of the node's config.toml that pactus-secure manages, for Pactus v1.8+.

The node's own file is merged on the host (templates/scripts/lib/merge-config-toml.awk):
these sections are written whole, in Pactus's key names; every other line stays as the
operator left it. The API sections and [html] are always written, so no chain default
(testnet's `[::]` listeners, localnet's pprof) survives on a public address.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import tomlkit

from settings import MANAGED_SECTIONS, Listen, Settings


def managed_sections(settings: Settings, htpasswd_line: str | None = None) -> dict[str, dict[str, Any]]:
    """The sections the program writes: `pactusConfig`'s, then [grpc], [jsonrpc], [http] and [html],
    each from the keys that settings/model.py gives a Pactus name.

    `htpasswd_line`: the basicAuth secret, written to grpc.basic_auth when
    grpc.basicAuth asks Pactus to check it."""
    if settings.grpc.basic_auth and htpasswd_line is None:
        raise ValueError("grpc.basicAuth is set but no basicAuth credential was given to render")
    api = {name: _in_pactus_terms(getattr(settings, name)) for name in MANAGED_SECTIONS}
    grpc = api["grpc"]
    api["grpc"] = {
        "enable": grpc.pop("enable"),
        "enable_wallet": settings.wallet_routed,
        **grpc,
        "basic_auth": htpasswd_line if settings.grpc.basic_auth else "",
    }
    api["html"]["enable"] = settings.html_served
    return {**_plain(settings.pactus_config), **api}


def _in_pactus_terms(section: Any) -> dict[str, Any]:
    """A section's values under their config.toml names, as TOML holds them."""
    values = {}
    for field in dataclasses.fields(section):
        name = field.metadata["setting"].pactus
        if name is not None:
            value = getattr(section, field.name)
            values[name] = str(value) if isinstance(value, Listen) else _plain(value)
    return values


def render_managed_sections(settings: Settings, htpasswd_line: str | None = None) -> str:
    """The managed sections as TOML: a node without config.toml gets exactly this file."""
    document = tomlkit.document()
    for index, (name, values) in enumerate(managed_sections(settings, htpasswd_line).items()):
        table = tomlkit.table()
        # Inside the section, so that the merge replaces it with the section next time.
        table.add(
            tomlkit.comment(f"managed by pactus-secure (stack {settings.stack}): `pulumi up` rewrites this section")
        )
        for key, value in values.items():
            table.add(key, value)
        if index:
            document.add(tomlkit.nl())
        document.add(name, table)
    return tomlkit.dumps(document)


def _plain(value: Any) -> Any:
    """Config objects may arrive as read-only mappings; tomlkit wants dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
