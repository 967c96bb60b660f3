"""The Pulumi program: the stack config in, one SecureNode out, its endpoints exported."""

from __future__ import annotations

import os
import shlex
import signal
import sys

import pulumi

from components.endpoint_check import check_endpoint
from components.secure_node import NodeSecrets, SecureNode
from render.scripts import certbot_plan
from settings import BASIC_AUTH, CLOUDFLARE_TOKEN, NAMESPACE, SSH_PRIVATE_KEY, SettingsError, parse_settings
from settings.parse import object_keys
from settings.secrets import NAMESPACED


def read_settings() -> tuple:
    """Reads the stack config once; returns the Settings and the secrets as secret Outputs."""
    config = pulumi.Config(NAMESPACE)
    keys = _keys_set()
    hidden = {key for key in keys if pulumi.runtime.is_config_secret(f"{NAMESPACE}:{key}")}
    # Secrets are read plain only to check their shape, then travel as secret Outputs.
    secrets = {key: config.get(key) for key in NAMESPACED if key in hidden}
    cloudflare = pulumi.Config("cloudflare")
    token = cloudflare.get("apiToken") or os.environ.get("CLOUDFLARE_API_TOKEN")
    if token:
        secrets[CLOUDFLARE_TOKEN.name] = token
    plain = (
        {CLOUDFLARE_TOKEN.name}
        if cloudflare.get("apiToken") and not pulumi.runtime.is_config_secret(CLOUDFLARE_TOKEN.name)
        else set()
    )
    raw = {key: _read(config, key) for key in keys - set(secrets)}
    try:
        settings = parse_settings(raw, stack=pulumi.get_stack(), secrets=secrets, hidden=hidden, plain_secrets=plain)
    except SettingsError as error:
        # RunError: Pulumi prints the message alone, without a Python traceback.
        raise pulumi.RunError(str(error)) from None
    basic_auth = secrets.get(BASIC_AUTH.name)
    return settings, NodeSecrets(
        ssh_private_key=pulumi.Output.secret(secrets[SSH_PRIVATE_KEY.name]),
        basic_auth_credential=pulumi.Output.secret(basic_auth.strip()) if basic_auth is not None else None,
    )


def _keys_set() -> set[str]:
    """Every key set in the namespace, so that a misspelt one is reported, not ignored. No
    public API lists the keys of a stack's config, so this reads the SDK's own table."""
    from pulumi.runtime.config import CONFIG

    prefix = f"{NAMESPACE}:"
    return {
        key.removeprefix(prefix)
        for key in {**pulumi.runtime.get_config_env(), **CONFIG.get()}
        if key.startswith(prefix)
    }


def _read(config: pulumi.Config, key: str):
    """An object key as the object, a scalar as the string the stack file holds."""
    if key in object_keys():
        try:
            return config.get_object(key)
        except pulumi.ConfigTypeError:
            pass  # not JSON: the settings layer names the key and the expected shape
    return config.get(key)


def _stop_quietly(signum, frame) -> None:
    """The language host sends SIGINT when the run ends, and a failed step ends it while this
    program still waits for what depends on that step. The engine has already reported the
    failure: leave without a KeyboardInterrupt traceback, which would bury it."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(128 + signum)


def unpinned_host_key_warning(settings) -> str:
    """Preview's warning without sshHostKey, with the command that fetches it. The operator may
    paste that command: every value in it is quoted."""
    keyscan = f"ssh-keyscan -t ed25519 -p {settings.ssh_port} -- {shlex.quote(settings.ssh_host)} | cut -d' ' -f2-"
    return (
        f"{NAMESPACE}:sshHostKey is not set, so any server answering at {settings.ssh_host} is trusted with "
        f'the SSH key and the node\'s secrets: `pulumi config set sshHostKey "$({keyscan})"`, then check it '
        "against the server's console"
    )


def main() -> None:
    signal.signal(signal.SIGINT, _stop_quietly)
    settings, secrets = read_settings()
    if settings.ssh_host_key is None:
        pulumi.log.warn(unpinned_host_key_warning(settings))
    pulumi.log.info(certbot_plan(settings))
    node = SecureNode(settings, secrets, check_endpoint)
    for key, value in node.endpoints.items():
        if value is not None:
            pulumi.export(key, value)
