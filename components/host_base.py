"""The host's base: Nginx and certbot installed and running, and with `firewall`, the firewall on."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.remote import Host, Step, run_step, waits_for


@dataclass(frozen=True)
class HostBaseArgs:
    host: Host
    packages: Step
    firewall: Step | None       # None: the firewall is left as it is
    open_ports: tuple[str, ...]  # what the firewall step lets in


class HostBase(pulumi.ComponentResource):
    """Left in place by `pulumi destroy`: other sites on the host may use Nginx, and closing
    ports again could cut the host off."""

    PACKAGES, FIREWALL = "packages", "firewall"

    def __init__(self, name: str, args: HostBaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pactus-secure:index:HostBase", name, None, opts)
        packages = run_step(f"{name}-{self.PACKAGES}", args.host, args.packages, parent=self, after=waits_for(opts))
        if args.firewall is not None:
            run_step(f"{name}-{self.FIREWALL}", args.host, args.firewall, parent=self, after=[packages])
        self.register_outputs({"log": packages.stdout,
                               "openPorts": list(args.open_ports) if args.firewall else None})
