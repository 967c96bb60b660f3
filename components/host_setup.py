"""Packages on the host: Nginx and certbot installed, Nginx running, the ACME webroot."""

from __future__ import annotations

import pulumi
import pulumi_command as command

from components.remote import remote_script, step_options
from render.scripts import host_setup_script
from settings import Settings


class HostSetup(pulumi.ComponentResource):
    """Left in place by `pulumi destroy`: other sites on the host may use Nginx too."""

    def __init__(self, name: str, settings: Settings, connection: command.remote.ConnectionArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("pactus-secure:index:HostSetup", name, None, opts)
        step = remote_script(
            f"{name}-packages",
            settings=settings,
            connection=connection,
            script=host_setup_script(settings),
            opts=step_options(self, opts),
        )
        self.register_outputs({"log": step.stdout})
