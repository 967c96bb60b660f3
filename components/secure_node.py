"""One Pactus node made reachable over HTTPS: the order of the steps lives here."""

from __future__ import annotations

import pulumi

from components.certificate import Certificate
from components.dns_record import DnsRecord
from components.host_setup import HostSetup
from components.nginx_site import NginxSite
from components.pactus_config import PactusConfig
from components.remote import host_connection
from render.host_layout import HostLayout
from render.scripts import http_site_script, tls_site_script
from settings import Settings


class SecureNode(pulumi.ComponentResource):
    """DNS record -> packages -> HTTP site -> certificate -> TLS site; config.toml alongside.

    The certificate needs the name to resolve and port 80 to answer the challenge; the TLS
    site names the certificate's files, so Nginx rejects it until they exist.
    """

    def __init__(self, name: str, settings: Settings, ssh_private_key: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("pactus-secure:index:SecureNode", name, None, opts)
        connection = host_connection(settings, ssh_private_key)
        layout = HostLayout(settings.domain)

        def after(*steps: pulumi.Resource | None) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=[s for s in steps if s is not None])

        dns = DnsRecord(f"{name}-dns", settings, opts=after()) if settings.manage_dns else None
        host = HostSetup(f"{name}-host", settings, connection, opts=after(dns))
        http_site = NginxSite(f"{name}-http-site", settings, connection, path=layout.http_site,
                              install_script=http_site_script(settings), opts=after(host))
        certificate = Certificate(f"{name}-certificate", settings, connection, opts=after(dns, http_site))
        NginxSite(f"{name}-tls-site", settings, connection, path=layout.tls_site,
                  install_script=tls_site_script(settings), opts=after(certificate))
        PactusConfig(f"{name}-pactus", settings, connection, opts=after())

        base = f"https://{settings.domain}"
        self.endpoints = {
            "grpcTarget": f"{settings.domain}:443" if settings.grpc.enable else None,
            "jsonrpcUrl": f"{base}{settings.jsonrpc.path}" if settings.jsonrpc.enable else None,
            "httpApiUrl": f"{base}{settings.http.base_path}/" if settings.http.enable else None,
        }
        self.register_outputs({k: v for k, v in self.endpoints.items() if v is not None})
