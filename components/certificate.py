"""The Let's Encrypt (or other ACME) certificate: issued by certbot, renewed on schedule."""

from __future__ import annotations

import pulumi
import pulumi_command as command

from components.remote import remote_script, step_options
from render.host_layout import HostLayout
from render.scripts import certificate_script
from settings import Settings


class Certificate(pulumi.ComponentResource):
    """Left in place by `pulumi destroy`: ACME rate limits make certificates costly to reissue."""

    def __init__(self, name: str, settings: Settings, connection: command.remote.ConnectionArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("pactus-secure:index:Certificate", name, None, opts)
        layout = HostLayout(settings.domain)
        remote_script(
            f"{name}-certbot",
            settings=settings,
            connection=connection,
            script=certificate_script(settings),
            opts=step_options(self, opts),
        )
        self.register_outputs({"certificatePath": layout.certificate, "keyPath": layout.certificate_key})
