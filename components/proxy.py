"""Nginx in front of the node: the HTTP site, the certificate, the credential, the TLS site, in that order."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_command as command

from components.remote import Host, Step, run_step, waits_for
from render.host_layout import HostLayout
from render.scripts import (
    basic_auth_script,
    certificate_script,
    file_remove_script,
    http_site_script,
    site_remove_script,
    tls_site_script,
)
from settings import Settings


@dataclass(frozen=True)
class ProxyArgs:
    host: Host
    settings: Settings  # the domain, the APIs, the ACME settings, basicAuth
    credential: pulumi.Output[str] | None = None  # the basicAuth htpasswd line (a secret)


class Proxy(pulumi.ComponentResource):
    """The certificate needs port 80 (the HTTP site) to answer the ACME challenge; the TLS
    site names the certificate's files and the htpasswd file, so Nginx rejects it until they
    exist. The certificate is left in place by `pulumi destroy`: ACME rate limits make it
    costly to reissue; the site files and the credential go."""

    HTTP_SITE, CERTIFICATE, CREDENTIAL, TLS_SITE = "http-site", "certificate", "credential", "tls-site"

    def __init__(self, name: str, args: ProxyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pactus-secure:index:Proxy", name, None, opts)
        settings, layout, before = args.settings, HostLayout(args.settings.name), waits_for(opts)

        def step(role: str, spec: Step, after: list[pulumi.Resource]) -> command.remote.Command:
            return run_step(f"{name}-{role}", args.host, spec, parent=self, after=[*before, *after])

        def site(path: str, script: str, imports: tuple[str, ...] = ()) -> Step:
            """A site file is replaced when its path (the domain) changes; its undo takes it away."""
            return Step(script, undo_script=site_remove_script(settings, path, imports), replace_on=(path,))

        http_site = step(self.HTTP_SITE, site(layout.http_site, http_site_script(settings)), [])
        self.certificate = certificate = step(self.CERTIFICATE, Step(certificate_script(settings)), [http_site])
        credential = None
        if settings.credential_set and args.credential is not None:
            credential = step(
                self.CREDENTIAL,
                Step(
                    args.credential.apply(lambda line: basic_auth_script(settings, line)),
                    undo_script=file_remove_script(settings, layout.htpasswd),
                    replace_on=(layout.htpasswd,),
                    carries_secret=True,
                ),
                [],
            )
        self.tls_site = step(
            self.TLS_SITE,
            site(layout.tls_site, tls_site_script(settings), (layout.jsonrpc_guard,)),
            [certificate, *([credential] if credential else [])],
        )
        self.steps = [http_site, certificate, *([credential] if credential else []), self.tls_site]
        self.register_outputs({"certificatePath": layout.certificate, "keyPath": layout.certificate_key})
