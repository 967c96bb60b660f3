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
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("pactus-secure:index:PactusConfig", name, None, opts)
        remote_script(
            f"{name}-config-toml",
            settings=settings,
            connection=connection,
            script=pactus_config_script(settings),
            opts=step_options(self, opts),
        )
        self.register_outputs({"configPath": f"{settings.pactus_dir}/config.toml"})
