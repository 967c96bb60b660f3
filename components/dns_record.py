"""The node's A record at Cloudflare."""

from __future__ import annotations

import pulumi
import pulumi_cloudflare as cloudflare

from settings import Settings


class DnsRecord(pulumi.ComponentResource):
    """`domain` -> `host`, DNS only: Cloudflare's proxy would break gRPC and ACME HTTP-01."""

    def __init__(self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pactus-secure:index:DnsRecord", name, None, opts)
        record = cloudflare.DnsRecord(
            f"{name}-a",
            zone_id=settings.cloudflare_zone_id,
            name=settings.domain,
            type="A",
            content=settings.host,
            ttl=1,  # automatic
            proxied=False,
            comment=f"pactus-secure stack {settings.stack}: managed by Pulumi",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.hostname = record.name
        self.record_id = record.id
        self.register_outputs({"hostname": self.hostname, "recordId": self.record_id})
