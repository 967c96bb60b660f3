"""The Pulumi program: the stack config in, one SecureNode out, its endpoints exported."""

from __future__ import annotations

import os
import shlex
import signal
import sys

import pulumi

from clients.ssh_greeting import silent_server
from components.secure_node import NodeSecrets, SecureNode
from render.distros import families_for
from render.nginx import SIGN_WITH_KEY_JSONRPC, jsonrpc_guarded
from render.scripts import certbot_plan
from settings import BASIC_AUTH, NAMESPACE, SSH_PRIVATE_KEY, SettingsError
from settings.stack_config import StackValue, read_stack_config


def read_settings() -> tuple:
    """Reads the stack config once; returns the Settings and the secrets as secret Outputs."""
    config = {key: StackValue(value, pulumi.runtime.is_config_secret(key)) for key, value in _config_table().items()}
    try:
        settings, secrets = read_stack_config(config, stack=pulumi.get_stack(), environ=os.environ)
    except SettingsError as error:
        # RunError: Pulumi prints the message alone, without a Python traceback.
        raise pulumi.RunError(str(error)) from None
    credential = secrets.get(BASIC_AUTH.name)
    return settings, NodeSecrets(
        ssh_private_key=pulumi.Output.secret(secrets[SSH_PRIVATE_KEY.name]),
        basic_auth_credential=pulumi.Output.secret(credential.strip()) if credential is not None else None,
    )


def _config_table() -> dict[str, str]:
    """Every key of the stack's config, so that a misspelt one is reported, not ignored. No
    public API lists the keys of a stack's config, so this reads the SDK's own table."""
    from pulumi.runtime.config import CONFIG

    return {**pulumi.runtime.get_config_env(), **CONFIG.get()}


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


def unread_jsonrpc_warning(settings) -> str | None:
    """Preview's warning where JSON-RPC cannot refuse the method that takes a private key: a
    host whose distribution has no njs for its nginx (gRPC and the HTTP-API refuse it anyway)."""
    if not jsonrpc_guarded(settings):
        return None
    without = [family.name for family in families_for(settings.distro) if not family.njs_packages]
    if not without:
        return None
    where = "on this host" if settings.distro != "auto" else f"if the host is of the {' or '.join(without)} family"
    return (
        f"JSON-RPC's {SIGN_WITH_KEY_JSONRPC}, which takes a raw private key, reaches the node {where}: the "
        "proxy reads JSON-RPC bodies with njs, which that family's repositories lack for their nginx (gRPC and "
        f"the HTTP-API refuse the method all the same). Load njs into the host's nginx, set "
        f"{NAMESPACE}:distro if the host is Debian or Ubuntu, or `pulumi config set --path jsonrpc.enable false`"
    )


def network_counters_note(settings) -> str | None:
    """Preview's note where the metrics will lack Pactus's network counters: the node counts
    them only with network.enable_metrics, in a section pactus-secure writes only whole."""
    network = settings.pactus_config.get("network") or {}
    if not settings.metrics.enable or network.get("enable_metrics") is True:
        return None
    return (
        "metrics: the node serves its Go runtime and process metrics; its network counters (libp2p_*) need "
        "network.enable_metrics: `pulumi config set --path pactusConfig.network.enable_metrics true`, with the "
        "rest of the [network] section your config.toml has (pactus-secure writes a section whole)"
    )


def main() -> None:
    signal.signal(signal.SIGINT, _stop_quietly)
    settings, secrets = read_settings()
    if settings.ssh_host_key is None:
        pulumi.log.warn(unpinned_host_key_warning(settings))
    unread = unread_jsonrpc_warning(settings)
    if unread:
        pulumi.log.warn(unread)
    uncounted = network_counters_note(settings)
    if uncounted:
        pulumi.log.info(uncounted)
    pulumi.log.info(certbot_plan(settings))
    if not pulumi.runtime.is_dry_run():  # a preview reaches no host
        silent = silent_server(
            settings.ssh_host,
            settings.ssh_port,
            timeout=settings.ssh_per_dial_timeout,
            tries=settings.ssh_dial_error_limit,
        )
        if silent:
            raise pulumi.RunError(f"{settings.name}: {silent}")
    node = SecureNode(settings, secrets)
    for key, value in node.endpoints.items():
        if value is not None:
            pulumi.export(key, value)
