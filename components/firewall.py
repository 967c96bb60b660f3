"""The host's firewall: only SSH, HTTP and HTTPS come in (the `firewall` setting)."""

from __future__ import annotations

import pulumi
import pulumi_command as command

from components.remote import remote_script, step_options
from render.scripts import firewall_ports, firewall_script
from settings import Settings


class Firewall(pulumi.ComponentResource):
    """Left as it is by `pulumi destroy`: closing ports again could cut the host off."""

    def __init__(self, name: str, settings: Settings, connection: command.remote.ConnectionArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("pactus-secure:index:Firewall", name, None, opts)
        remote_script(
            f"{name}-rules",
            settings=settings,
            connection=connection,
            script=firewall_script(settings),
            opts=step_options(self, opts),
        )
        self.register_outputs({"openPorts": firewall_ports(settings)})
