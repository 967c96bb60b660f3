"""The basicAuth credential on the host, for Nginx to check on JSON-RPC and the HTTP-API."""

from __future__ import annotations

import pulumi
import pulumi_command as command

from components.remote import remote_script, step_options
from render.host_layout import HostLayout
from render.scripts import basic_auth_script, file_remove_script
from settings import Settings


class BasicAuth(pulumi.ComponentResource):
    """The htpasswd file; removed on destroy or when basicAuth is unset, after the TLS site stops naming it."""

    def __init__(self, name: str, settings: Settings, connection: command.remote.ConnectionArgs,
                 credential: pulumi.Output[str], opts: pulumi.ResourceOptions | None = None):
        super().__init__("pactus-secure:index:BasicAuth", name, None, opts)
        path = HostLayout(settings.domain).htpasswd
        remote_script(
            f"{name}-htpasswd",
            settings=settings,
            connection=connection,
            script=credential.apply(lambda line: basic_auth_script(settings, line)),
            undo_script=file_remove_script(settings, path),
            replace_on=[path],
            carries_secret=True,
            opts=step_options(self, opts),
        )
        self.register_outputs({"path": path})
