"""Pactus's config.toml: APIs on loopback, pushed only when its content changes."""

from __future__ import annotations

import pulumi
import pulumi_command as command

from components.remote import remote_script, step_options
from render.scripts import pactus_config_script
from settings import Settings


class PactusConfig(pulumi.ComponentResource):
    """Left in place by `pulumi destroy`, with its backups: the node keeps running as configured."""

    def __init__(self, name: str, settings: Settings, connection: command.remote.ConnectionArgs,
                 basic_auth: pulumi.Output[str] | None, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pactus-secure:index:PactusConfig", name, None, opts)
        # With grpc.basicAuth the file holds the credential's hash: the script is a secret.
        script: pulumi.Input[str]
        if settings.grpc.basic_auth and basic_auth is not None:
            script = basic_auth.apply(lambda line: pactus_config_script(settings, line))
        else:
            script = pactus_config_script(settings)
        self.step = remote_script(
            f"{name}-config-toml",
            settings=settings,
            connection=connection,
            script=script,
            carries_secret=settings.grpc.basic_auth,
            opts=step_options(self, opts),
        )
        self.register_outputs({"configPath": f"{settings.pactus_dir}/config.toml"})
