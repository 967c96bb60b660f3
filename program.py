"""The Pulumi program: the stack config in, one SecureNode out, its endpoints exported."""

from __future__ import annotations

import os

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env, is_config_secret

from components.secure_node import SecureNode
from settings import CLOUDFLARE_TOKEN, NAMESPACE, OBJECT_KEYS, SSH_PRIVATE_KEY, SettingsError, parse_settings


def read_settings():
    """Reads the stack config once; returns the Settings and the SSH key as a secret Output."""
    config = pulumi.Config(NAMESPACE)
    # Every key set in the namespace, so that a misspelt one is reported, not ignored.
    keys = {k.split(":", 1)[1] for k in {**get_config_env(), **CONFIG.get()} if k.startswith(f"{NAMESPACE}:")}
    raw = {key: _read(config, key) for key in keys - {SSH_PRIVATE_KEY}}
    ssh_private_key = config.get_secret(SSH_PRIVATE_KEY)
    present = {SSH_PRIVATE_KEY} if ssh_private_key is not None else set()
    if pulumi.Config("cloudflare").get_secret("apiToken") is not None or os.environ.get("CLOUDFLARE_API_TOKEN"):
        present.add(CLOUDFLARE_TOKEN)
    try:
        settings = parse_settings(raw, stack=pulumi.get_stack(), secrets_present=present,
                                  hidden={key for key in raw if is_config_secret(f"{NAMESPACE}:{key}")})
    except SettingsError as error:
        # RunError: Pulumi prints the message alone, without a Python traceback.
        raise pulumi.RunError(str(error)) from None
    return settings, ssh_private_key


def _read(config: pulumi.Config, key: str):
    if key in OBJECT_KEYS:
        try:
            return config.get_object(key)
        except pulumi.ConfigTypeError:
            pass  # not JSON: the settings layer names the key and the expected shape
    return config.get(key)


def main() -> None:
    settings, ssh_private_key = read_settings()
    node = SecureNode(settings.domain.replace(".", "-"), settings, ssh_private_key)
    for key, value in node.endpoints.items():
        if value is not None:
            pulumi.export(key, value)
