"""One Nginx site file: installed behind `nginx -t`, removed on destroy."""

from __future__ import annotations

import pulumi
import pulumi_command as command

from components.remote import remote_script, step_options
from render.scripts import site_remove_script
from settings import Settings


class NginxSite(pulumi.ComponentResource):
    """`install_script` carries the file; a new `path` replaces the step and removes the old file."""

    def __init__(self, name: str, settings: Settings, connection: command.remote.ConnectionArgs, *,
                 path: str, install_script: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pactus-secure:index:NginxSite", name, None, opts)
        self.step = remote_script(
            f"{name}-file",
            settings=settings,
            connection=connection,
            script=install_script,
            undo_script=site_remove_script(settings, path),
            replace_on=[path],
            opts=step_options(self, opts),
        )
        self.register_outputs({"path": path})
