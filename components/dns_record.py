"""The node's A record at Cloudflare."""

from __future__ import annotations

import pulumi
import pulumi_cloudflare as cloudflare

from settings import Settings


class DnsRecord(pulumi.ComponentResource):
    """`domain` -> `host` (A) and `hostIpv6` (AAAA), DNS only: Cloudflare's proxy would break
    gRPC and ACME HTTP-01."""

    def __init__(self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pactus-secure:index:DnsRecord", name, None, opts)
        addresses = {"A": settings.host, "AAAA": settings.host_ipv6}
        records = {
            type_: cloudflare.DnsRecord(
                f"{name}-{type_.lower()}",
                zone_id=settings.cloudflare_zone_id,
                name=settings.domain,
                type=type_,
                content=address,
                ttl=1,  # automatic
                proxied=False,
                comment=f"pactus-secure stack {settings.stack}: managed by Pulumi",
                opts=pulumi.ResourceOptions(parent=self),
            )
            for type_, address in addresses.items() if address is not None
        }
        self.hostname = records["A"].name
        self.register_outputs({"hostname": self.hostname, **{f"record{t}": r.id for t, r in records.items()}})
