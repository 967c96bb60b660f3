"""One Pactus node made reachable over HTTPS: the order of the steps lives here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pulumi

from components.basic_auth import BasicAuth
from components.certificate import Certificate
from components.endpoint_check import Endpoint, ServedCertificate
from components.firewall import Firewall
from components.host_setup import HostSetup
from components.nginx_site import NginxSite
from components.pactus_config import PactusConfig
from components.remote import host_connection
from render.host_layout import HostLayout
from render.scripts import http_site_script, tls_site_script
from settings import Settings


@dataclass(frozen=True)
class NodeSecrets:
    """The secrets a node needs, as secret Outputs: they never enter Settings or a rendered plain string."""
    ssh_private_key: pulumi.Output[str]
    basic_auth: pulumi.Output[str] | None = None


class SecureNode(pulumi.ComponentResource):
    """DNS record -> packages -> (firewall) -> HTTP site -> certificate -> TLS site; the
    htpasswd file before the TLS site that names it; config.toml alongside; then, on `up`,
    `check` calls the public endpoint as a user would.

    The certificate needs the name to resolve and port 80 to answer the challenge; the TLS
    site names the certificate's files, so Nginx rejects it until they exist.
    """

    def __init__(self, name: str, settings: Settings, secrets: NodeSecrets,
                 check: Callable[[Endpoint], ServedCertificate], opts: pulumi.ResourceOptions | None = None):
        super().__init__("pactus-secure:index:SecureNode", name, None, opts)
        connection = host_connection(settings, secrets.ssh_private_key)
        layout = HostLayout(settings.domain)

        def after(*steps: pulumi.Resource | None) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=[s for s in steps if s is not None])

        dns = None
        if settings.manage_dns:
            # Imported only here: pulumi_cloudflare alone costs about 2 s and 120 MB to import.
            from components.dns_record import DnsRecord
            dns = DnsRecord(f"{name}-dns", settings, opts=after())
        host = HostSetup(f"{name}-host", settings, connection, opts=after(dns))
        firewall = Firewall(f"{name}-firewall", settings, connection, opts=after(host)) if settings.firewall else None
        http_site = NginxSite(f"{name}-http-site", settings, connection, path=layout.http_site,
                              install_script=http_site_script(settings), opts=after(host, firewall))
        certificate = Certificate(f"{name}-certificate", settings, connection, opts=after(dns, http_site))
        basic_auth = None
        if settings.basic_auth and secrets.basic_auth is not None:
            basic_auth = BasicAuth(f"{name}-basic-auth", settings, connection, secrets.basic_auth, opts=after(host))
        tls_site = NginxSite(f"{name}-tls-site", settings, connection, path=layout.tls_site,
                             install_script=tls_site_script(settings), opts=after(certificate, basic_auth))
        pactus = PactusConfig(f"{name}-pactus", settings, connection, secrets.basic_auth, opts=after())

        base = f"https://{settings.domain}"
        self.endpoints = {
            "grpcTarget": f"{settings.domain}:443" if settings.grpc.enable else None,
            "jsonrpcUrl": f"{base}{settings.jsonrpc.path}" if settings.jsonrpc.enable else None,
            "httpApiUrl": f"{base}{settings.http.base_path}/" if settings.http.enable else None,
        }
        if not pulumi.runtime.is_dry_run():
            # Once the TLS site serves and the node runs its new config: never during preview.
            endpoint = Endpoint(domain=settings.domain, grpc=settings.grpc.enable,
                                jsonrpc_path=settings.jsonrpc.path if settings.jsonrpc.enable else None,
                                http_base_path=settings.http.base_path if settings.http.enable else None,
                                guarded=settings.basic_auth, ca_bundle=settings.check_ca_bundle)
            served = pulumi.Output.all(tls_site.step.id, pactus.step.id).apply(lambda _: check(endpoint))
            self.endpoints["certificateExpiry"] = served.apply(lambda certificate: certificate.expires)
            self.endpoints["certificateIssuer"] = served.apply(lambda certificate: certificate.issuer)
        self.register_outputs({k: v for k, v in self.endpoints.items() if v is not None})
