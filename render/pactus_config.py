"""The node's config.toml for Pactus v1.8+, owned whole by pactus-secure.

Pactus decodes config.toml strictly and drops the file on an unknown key, so only keys it
knows are written: the API sections from the stack config, then the operator's other
sections (`pactusConfig`) as given. Missing keys keep Pactus's own defaults.
"""

from __future__ import annotations

from typing import Any, Mapping

import tomlkit

from settings import Settings


def api_sections(settings: Settings, basic_auth: str | None = None) -> dict[str, dict[str, Any]]:
    """The [grpc], [jsonrpc] and [http] tables, in Pactus's own key names.

    `basic_auth`: the htpasswd line of the basicAuth secret, written to grpc.basic_auth when
    grpc.basicAuth asks Pactus to check it."""
    grpc: dict[str, Any] = {
        "enable": settings.grpc.enable,
        "enable_wallet": settings.expose_wallet,
        "listen": str(settings.grpc.listen),
    }
    if settings.grpc.basic_auth:
        if basic_auth is None:
            raise ValueError("grpc.basicAuth is set but no basicAuth credential was given to render")
        grpc["basic_auth"] = basic_auth
    return {
        "grpc": grpc,
        "jsonrpc": {
            "enable": settings.jsonrpc.enable,
            "listen": str(settings.jsonrpc.listen),
            "origins": list(settings.jsonrpc.origins),
        },
        "http": {
            "enable": settings.http.enable,
            "listen": str(settings.http.listen),
            "base_path": settings.http.base_path,
            "enable_cors": settings.http.enable_cors,
        },
    }


def render_pactus_config(settings: Settings, basic_auth: str | None = None) -> str:
    document = tomlkit.document()
    document.add(tomlkit.comment(f"Managed by pactus-secure (stack {settings.stack}); replaced on every `pulumi up`."))
    document.add(tomlkit.comment("API sections come from the keys grpc, jsonrpc, http and exposeWallet;"))
    document.add(tomlkit.comment("other sections from the key pactusConfig. The previous file is kept as a backup."))
    for name, table in {**_plain(settings.pactus_config), **api_sections(settings, basic_auth)}.items():
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
