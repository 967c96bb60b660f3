"""Nginx in front of the node: the HTTP site, the certificate, the credential, the TLS site, in that order."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_command as command

from components.remote import Host, Step, run_step, waits_for


@dataclass(frozen=True)
class ProxyArgs:
    host: Host
    http_site: Step             # port 80: the ACME webroot, and a redirect to HTTPS
    certificate: Step           # certbot, and its renewal schedule
    credential: Step | None     # the basicAuth htpasswd file, None without basicAuth
    tls_site: Step              # port 443: the proxy itself
    certificate_path: str
    certificate_key_path: str


class Proxy(pulumi.ComponentResource):
    """The certificate needs port 80 to answer the ACME challenge; the TLS site names the
    certificate's files and the htpasswd file, so Nginx rejects it until they exist. The
    certificate is left in place by `pulumi destroy`: ACME rate limits make it costly to
    reissue; the site files and the credential go."""

    HTTP_SITE, CERTIFICATE, CREDENTIAL, TLS_SITE = "http-site", "certificate", "credential", "tls-site"

    def __init__(self, name: str, args: ProxyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pactus-secure:index:Proxy", name, None, opts)
        before = waits_for(opts)

        def step(role: str, spec: Step, after: list[pulumi.Resource]) -> command.remote.Command:
            return run_step(f"{name}-{role}", args.host, spec, parent=self, after=[*before, *after])

        http_site = step(self.HTTP_SITE, args.http_site, [])
        certificate = step(self.CERTIFICATE, args.certificate, [http_site])
        credential = step(self.CREDENTIAL, args.credential, []) if args.credential else None
        self.tls_site = step(self.TLS_SITE, args.tls_site, [certificate, *([credential] if credential else [])])
        self.register_outputs({"certificatePath": args.certificate_path, "keyPath": args.certificate_key_path})
