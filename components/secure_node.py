"""One Pactus node made reachable over HTTPS: its parts, what each is given, and their order."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from clients.endpoint import Endpoint
from components import names
from components.endpoint_check import endpoint_check, script_digest
from components.host_base import HostBase, HostBaseArgs
from components.node_config import NodeConfig, NodeConfigArgs
from components.proxy import Proxy, ProxyArgs
from components.remote import connect
from render.scripts import RESTART_YOURSELF, certbot_version_in
from settings import Settings


@dataclass(frozen=True)
class NodeSecrets:
    """The secrets a node needs, as secret Outputs: they never enter Settings or a rendered plain string."""

    ssh_private_key: pulumi.Output[str]
    basic_auth_credential: pulumi.Output[str] | None = None  # the htpasswd line, with basicAuth


class SecureNode(pulumi.ComponentResource):
    """DNS record -> host base -> proxy (HTTP site, certificate, credential, TLS site), with
    config.toml alongside; then the endpoint check calls the public endpoint as a user would,
    after every `up` that changed a part. Its name is fixed (components/names.py); the domain
    is a setting like any other."""

    def __init__(self, settings: Settings, secrets: NodeSecrets, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pactus-secure:index:SecureNode", names.NODE, None, opts)
        host = connect(
            address=settings.ssh_host,
            port=settings.ssh_port,
            user=settings.ssh_user,
            private_key=secrets.ssh_private_key,
            host_key=settings.ssh_host_key,
            dial_error_limit=settings.ssh_dial_error_limit,
            per_dial_timeout=settings.ssh_per_dial_timeout,
        )

        def after(*parts: pulumi.Resource | None) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=[p for p in parts if p is not None])

        dns = _dns_record(settings, after()) if settings.dns_record else None
        base = HostBase(names.HOST, HostBaseArgs(host, settings), opts=after(dns))
        proxy = Proxy(names.PROXY, ProxyArgs(host, settings, secrets.basic_auth_credential), opts=after(dns, base))
        pactus = NodeConfig(names.PACTUS, NodeConfigArgs(host, settings, secrets.basic_auth_credential), opts=after())
        served = endpoint_check(
            names.CHECK,
            _endpoint(settings),
            [
                settings.host,
                settings.ssh_host,
                *(script_digest(s.stdin) for s in base.steps + proxy.steps + pactus.steps),
            ],
            _config_unapplied(settings, pactus),
            opts=after(dns, base, proxy, pactus),
        )
        self.endpoints: dict[str, pulumi.Input[str] | None] = {
            "grpcTarget": f"{settings.name}:443" if settings.grpc.enable else None,
            "jsonrpcUrl": f"https://{settings.name}{settings.jsonrpc.path}" if settings.jsonrpc.enable else None,
            "httpApiUrl": f"https://{settings.name}{settings.http.base_path}/" if settings.http.enable else None,
            "certificateExpiry": served.apply(lambda certificate: certificate.expires),
            "certificateIssuer": served.apply(lambda certificate: certificate.issuer),
            "renewalDue": served.apply(lambda certificate: certificate.renewal_due),
            # Which certbot renews it: fleet status tells from its version whether it follows ARI.
            "certbotVersion": proxy.certificate.stdout.apply(certbot_version_in),
        }
        self.register_outputs({k: v for k, v in self.endpoints.items() if v is not None})


def _dns_record(settings: Settings, opts: pulumi.ResourceOptions) -> pulumi.ComponentResource:
    # Imported only here: pulumi_cloudflare alone costs about 2 s and 120 MB to import.
    from components.dns_record import DnsRecord, DnsRecordArgs

    addresses = {"A": settings.host, "AAAA": settings.host_ipv6}
    return DnsRecord(
        names.DNS,
        DnsRecordArgs(
            zone_id=settings.cloudflare_zone_id,
            domain=settings.domain,
            addresses={kind: address for kind, address in addresses.items() if address is not None},
            comment=f"pactus-secure stack {settings.stack}: managed by Pulumi",
        ),
        opts=opts,
    )


def _endpoint(settings: Settings) -> Endpoint:
    return Endpoint(
        name=settings.name,
        grpc=settings.grpc.enable,
        jsonrpc_path=settings.jsonrpc.path if settings.jsonrpc.enable else None,
        http_base_path=settings.http.base_path if settings.http.enable else None,
        basic_auth_required=settings.credential_set,
        ca_bundle=settings.check_ca_bundle,
    )


def _config_unapplied(settings: Settings, pactus: NodeConfig) -> pulumi.Output[bool]:
    """The config.toml step wrote the file and nothing restarts the node: the node may still
    run its previous file. A boolean made from the step's output, which is secret when the
    file carries a credential."""
    return pulumi.Output.unsecret(
        pactus.step.stdout.apply(
            lambda printed: settings.pactus_service is None and RESTART_YOURSELF in (printed or "")
        )
    )
