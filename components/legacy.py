"""The URNs of the layout before names were fixed, given as aliases so that a stack deployed
then moves to the new names with nothing replaced (a replaced site step would remove its file).

Then the node was named after its domain (node1.example.com: `node1-example-com`), and each
step had a component of its own.
"""

from __future__ import annotations

import pulumi

from components import names

_NODE_TYPE = "pactus-secure:index:SecureNode"
COMMAND_TYPE = "command:remote:Command"
RECORD_TYPE = "cloudflare:index/dnsRecord:DnsRecord"

# name now -> (type of its component then, that component's role, the resource's role)
_THEN = {
    names.PACKAGES: ("HostSetup", "host", "packages"),
    names.FIREWALL: ("Firewall", "firewall", "rules"),
    names.HTTP_SITE: ("NginxSite", "http-site", "file"),
    names.CERTIFICATE: ("Certificate", "certificate", "certbot"),
    names.CREDENTIAL: ("BasicAuth", "basic-auth", "htpasswd"),
    names.TLS_SITE: ("NginxSite", "tls-site", "file"),
    names.CONFIG_TOML: ("PactusConfig", "pactus", "config-toml"),
    f"{names.DNS}-a": ("DnsRecord", "dns", "a"),
    f"{names.DNS}-aaaa": ("DnsRecord", "dns", "aaaa"),
}


def node_alias(domain: str) -> pulumi.Alias:
    return pulumi.Alias(name=_node_name(domain))


def former_urn(name: str, type_: str, domain: str) -> str:
    """The URN the resource now called `name` had in a stack for `domain` under the old layout."""
    component, component_role, role = _THEN[name]
    node = _node_name(domain)
    return (f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{_NODE_TYPE}$pactus-secure:index:{component}"
            f"${type_}::{node}-{component_role}-{role}")


def _node_name(domain: str) -> str:
    return domain.replace(".", "-")
