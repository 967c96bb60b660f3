"""Where pactus-secure puts things on the host, derived from the node's name alone.

Each Nginx file has one owner step: the HTTP site (ACME webroot and redirect) and the TLS
site are separate files, so re-running one step never undoes the other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from settings.constants import PROGRAM_DIR

NGINX_CONF_DIR = "/etc/nginx/conf.d"
ACME_WEBROOT = f"{PROGRAM_DIR}/acme"
# The distribution's packages removed with its certbot (its plugins), reinstalled on the switch back.
REMOVED_WITH_CERTBOT = f"{PROGRAM_DIR}/certbot-removed-with.txt"
# Every script holds a lock in it while it works; root's alone, so no other user can plant a link there.
HOST_LOCK_DIR = "/run/pactus-secure"
RENEW_HOOK = "/etc/letsencrypt/renewal-hooks/deploy/pactus-secure-reload-nginx"
# Where no systemd runs: our cron line for `certbot renew` (the distribution's may not do).
RENEWAL_CRON = "/etc/cron.d/pactus-secure-certbot-renew"


@dataclass(frozen=True)
class HostLayout:
    name: str  # the node's name: its domain, or its IP address with ipAddressCertificate

    @property
    def http_site(self) -> str:
        return f"{NGINX_CONF_DIR}/pactus-secure-{self.name}-http.conf"

    @property
    def tls_site(self) -> str:
        return f"{NGINX_CONF_DIR}/pactus-secure-{self.name}-tls.conf"

    @property
    def htpasswd(self) -> str:
        """Outside conf.d, which Nginx includes as config: this file is data."""
        return f"/etc/nginx/pactus-secure-{self.name}.htpasswd"

    @property
    def jsonrpc_guard(self) -> str:
        """njs code the TLS site imports; outside conf.d, which holds only config."""
        return f"/etc/nginx/pactus-secure-{self.name}.jsonrpc-guard.js"

    @property
    def access_log(self) -> str:
        """Debian's, RHEL's and Arch's logrotate rotate /var/log/nginx/*.log."""
        return f"/var/log/nginx/pactus-secure-{self.name}.access.log"

    @property
    def certificate(self) -> str:
        return f"/etc/letsencrypt/live/{self.name}/fullchain.pem"

    @property
    def certificate_key(self) -> str:
        return f"/etc/letsencrypt/live/{self.name}/privkey.pem"

    @property
    def renewal_conf(self) -> str:
        return f"/etc/letsencrypt/renewal/{self.name}.conf"

    @property
    def upstream_prefix(self) -> str:
        """Nginx names are global: two nodes on one host must not share upstream names."""
        return "pactus_" + self.name.replace(".", "_").replace("-", "_")

    @property
    def variable_prefix(self) -> str:
        """Nginx variables are global too, but their names go into a hash whose buckets hold 64
        bytes by default (`variables_hash_bucket_size`): a name made from a long domain would
        fail `nginx -t`. Short, and one per domain."""
        return "pactus_" + hashlib.sha256(self.name.encode()).hexdigest()[:12]
