"""Pactus's config.toml: the API sections merged into the node's own file, pushed when they change."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.remote import Host, Step, run_step, waits_for
from render.scripts import pactus_config_script
from settings import Settings


@dataclass(frozen=True)
class NodeConfigArgs:
    host: Host
    settings: Settings  # pactusDir, the API sections, pactusService
    grpc_credential: pulumi.Output[str] | None = None  # the htpasswd line, whose hash grpc.basicAuth writes


class NodeConfig(pulumi.ComponentResource):
    """Left in place by `pulumi destroy`, with its backups: the node keeps running as configured."""

    CONFIG_TOML = "config-toml"

    def __init__(self, name: str, args: NodeConfigArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pactus-secure:index:NodeConfig", name, None, opts)
        settings = args.settings
        script: pulumi.Input[str]
        if settings.grpc.basic_auth and args.grpc_credential is not None:
            # The file then holds the credential's hash: the script is a secret.
            script = args.grpc_credential.apply(lambda line: pactus_config_script(settings, line))
        else:
            script = pactus_config_script(settings)
        self.step = run_step(
            f"{name}-{self.CONFIG_TOML}",
            args.host,
            Step(script, carries_secret=settings.grpc.basic_auth),
            parent=self,
            after=waits_for(opts),
        )
        self.steps = [self.step]  # what the endpoint check is run again after
        self.register_outputs({"configPath": f"{settings.pactus_dir}/config.toml"})
