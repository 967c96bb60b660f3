"""The host's base: Nginx and certbot installed and running, and with `firewall`, the firewall on."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.remote import Host, Step, run_step, waits_for
from render.scripts import firewall_ports, firewall_script, host_setup_script
from settings import Settings


@dataclass(frozen=True)
class HostBaseArgs:
    host: Host
    settings: Settings  # the distribution, the ACME client's needs, `firewall` and the ports it opens


class HostBase(pulumi.ComponentResource):
    """Left in place by `pulumi destroy`: other sites on the host may use Nginx, and closing
    ports again could cut the host off."""

    PACKAGES, FIREWALL = "packages", "firewall"

    def __init__(self, name: str, args: HostBaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pactus-secure:index:HostBase", name, None, opts)
        settings = args.settings
        packages = run_step(
            f"{name}-{self.PACKAGES}", args.host, Step(host_setup_script(settings)), parent=self, after=waits_for(opts)
        )
        self.steps = [packages]  # what the endpoint check is run again after
        if settings.firewall:
            self.steps.append(
                run_step(
                    f"{name}-{self.FIREWALL}", args.host, Step(firewall_script(settings)), parent=self, after=[packages]
                )
            )
        self.register_outputs(
            {"log": packages.stdout, "openPorts": firewall_ports(settings) if settings.firewall else None}
        )
