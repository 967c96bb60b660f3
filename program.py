"""The Pulumi program: the stack config in, one SecureNode out, its endpoints exported."""

from __future__ import annotations

import os

import pulumi
from pulumi.runtime.config import CONFIG, get_config, get_config_env, is_config_secret

from components.endpoint_check import check_endpoint
from components.secure_node import NodeSecrets, SecureNode
from settings import (BASIC_AUTH, CLOUDFLARE_TOKEN, NAMESPACE, OBJECT_KEYS, SECRET_KEYS, SSH_PRIVATE_KEY,
                      SettingsError, parse_settings)


def read_settings():
    """Reads the stack config once; returns the Settings and the secrets as secret Outputs."""
    config = pulumi.Config(NAMESPACE)
    # Every key set in the namespace, so that a misspelt one is reported, not ignored.
    keys = {k.split(":", 1)[1] for k in {**get_config_env(), **CONFIG.get()} if k.startswith(f"{NAMESPACE}:")}
    hidden = {key for key in keys if is_config_secret(f"{NAMESPACE}:{key}")}
    # Secrets are read plain only to check their shape, then travel as secret Outputs.
    secrets = {key: get_config(f"{NAMESPACE}:{key}") for key in SECRET_KEYS if key in hidden}
    cloudflare_token = get_config(CLOUDFLARE_TOKEN) or os.environ.get("CLOUDFLARE_API_TOKEN")
    if cloudflare_token:
        secrets[CLOUDFLARE_TOKEN] = cloudflare_token
    plain = {CLOUDFLARE_TOKEN} if get_config(CLOUDFLARE_TOKEN) and not is_config_secret(CLOUDFLARE_TOKEN) else set()
    raw = {key: _read(config, key) for key in keys - set(secrets)}
    try:
        settings = parse_settings(raw, stack=pulumi.get_stack(), secrets=secrets, hidden=hidden,
                                  plain_secrets=plain)
    except SettingsError as error:
        # RunError: Pulumi prints the message alone, without a Python traceback.
        raise pulumi.RunError(str(error)) from None
    return settings, NodeSecrets(
        ssh_private_key=pulumi.Output.secret(secrets[SSH_PRIVATE_KEY]),
        basic_auth=pulumi.Output.secret(secrets[BASIC_AUTH].strip()) if BASIC_AUTH in secrets else None,
    )


def _read(config: pulumi.Config, key: str):
    if key in OBJECT_KEYS:
        try:
            return config.get_object(key)
        except pulumi.ConfigTypeError:
            pass  # not JSON: the settings layer names the key and the expected shape
    return config.get(key)


def main() -> None:
    settings, secrets = read_settings()
    if settings.ssh_host_key is None:
        pulumi.log.warn(f"{NAMESPACE}:sshHostKey is not set, so any server answering at {settings.ssh_host} is "
                        "trusted with the SSH key and the node's secrets: `pulumi config set sshHostKey "
                        f"\"$(ssh-keyscan -t ed25519 {settings.ssh_host} | cut -d' ' -f2-)\"`")
    node = SecureNode(settings.domain.replace(".", "-"), settings, secrets, check_endpoint)
    for key, value in node.endpoints.items():
        if value is not None:
            pulumi.export(key, value)
