"""The node's address records at Cloudflare."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare


@dataclass(frozen=True)
class DnsRecordArgs:
    zone_id: str
    domain: str
    addresses: Mapping[str, str]  # record type (A, AAAA) -> address
    comment: str


class DnsRecord(pulumi.ComponentResource):
    """DNS only: Cloudflare's proxy would break gRPC and ACME HTTP-01."""

    def __init__(self, name: str, args: DnsRecordArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pactus-secure:index:DnsRecord", name, None, opts)
        records = {
            type_: cloudflare.DnsRecord(
                f"{name}-{type_.lower()}",
                zone_id=args.zone_id,
                name=args.domain,
                type=type_,
                content=address,
                ttl=1,  # automatic
                proxied=False,
                comment=args.comment,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for type_, address in args.addresses.items()
        }
        self.hostname = records["A"].name
        self.register_outputs({"hostname": self.hostname, **{f"record{t}": r.id for t, r in records.items()}})
