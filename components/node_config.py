"""Pactus's config.toml: the API sections merged into the node's own file, pushed when they change."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.remote import Host, Step, run_step, waits_for


@dataclass(frozen=True)
class NodeConfigArgs:
    host: Host
    config_toml: Step
    path: str


class NodeConfig(pulumi.ComponentResource):
    """Left in place by `pulumi destroy`, with its backups: the node keeps running as configured."""

    CONFIG_TOML = "config-toml"

    def __init__(self, name: str, args: NodeConfigArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pactus-secure:index:NodeConfig", name, None, opts)
        self.step = run_step(f"{name}-{self.CONFIG_TOML}", args.host, args.config_toml, parent=self,
                             after=waits_for(opts))
        self.register_outputs({"configPath": args.path})
