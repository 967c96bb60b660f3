"""The shell scripts that run on the host, one per step, rendered from templates/scripts.

Each script is complete in itself (bash, `set -euo pipefail`, idempotent, says what it
did) and carries the files it installs as quoted here-documents, so one SSH command
delivers both and nothing is half-copied.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from render.distros import families_for
from render.host_layout import ACME_WEBROOT, REMOVED_WITH_CERTBOT, RENEW_HOOK, RENEWAL_CRON, HostLayout
from render.nginx import (
    SIGN_WITH_KEY_JSONRPC,
    jsonrpc_guarded,
    render_acme_http_site,
    render_jsonrpc_guard,
    render_tls_site,
)
from render.pactus_config import managed_sections, render_managed_sections
from render.renewal import SHORT_LIFETIME
from render.templating import SAYS, TEMPLATES, render
from settings import MANAGED_SECTIONS, Settings
from settings.constants import CERTBOT_PYPI_VERSION, CERTBOT_VENV, CERTBOT_VENVS, MULTIADDR_PORT

HEREDOC_DELIMITER = "PACTUS_SECURE_END_OF_FILE"
CONFIG_BACKUPS_KEPT = 5
PACTUS_STARTUP_TIMEOUT = 120  # seconds a restarted node may take to open its APIs
DISTRO_CERTBOT = "/usr/bin/certbot"  # where every family's certbot package puts it
# ARI (the CA telling when to renew, as Let's Encrypt did on 2026-05-08) came in certbot 4.1.
DISTRO_ARI = "ARI from certbot 4.1 only (not Debian 12's 2.1 or 13's 4.0)"
MERGE_PROGRAM = TEMPLATES / "scripts" / "lib" / "merge-config-toml.awk"


def host_setup_script(settings: Settings) -> str:
    return render(
        "scripts/host-setup.sh.j2",
        stack=settings.stack,
        families=families_for(settings.distro),
        webroot=ACME_WEBROOT,
        njs=jsonrpc_guarded(settings),
        denied_method=SIGN_WITH_KEY_JSONRPC,
        **_certbot_source(settings),
    )


def http_site_script(settings: Settings) -> str:
    return _site_install(
        settings, HostLayout(settings.name).http_site, [SiteVariant("", render_acme_http_site(settings))]
    )


def tls_site_script(settings: Settings) -> str:
    """One variant of the site for each thing the host decides: the http2 form its nginx wants,
    and, while JSON-RPC has a method to refuse, whether its nginx runs njs to read bodies."""
    layout = HostLayout(settings.name)
    guarded = jsonrpc_guarded(settings)
    variants = []
    for http2 in (True, False):
        for njs in (True, False) if guarded else (False,):
            condition = " && ".join(
                name for name, wanted in (("nginx_wants_http2_directive", http2), ("nginx_runs_njs", njs)) if wanted
            )
            variants.append(SiteVariant(condition, render_tls_site(settings, http2_directive=http2, njs=njs)))
    return _site_install(
        settings,
        layout.tls_site,
        variants,
        requires=(layout.certificate, layout.certificate_key),
        default_of_443=settings.ip_address_certificate,
        guard=layout.jsonrpc_guard,
        guard_content=render_jsonrpc_guard() if guarded else None,
    )


def site_remove_script(settings: Settings, path: str, imports: tuple[str, ...] = ()) -> str:
    """`imports`: files the site alone reads, which go with it."""
    return render("scripts/nginx-site-remove.sh.j2", stack=settings.stack, path=path, imports=imports)


def certificate_script(settings: Settings) -> str:
    layout = HostLayout(settings.name)
    pypi = settings.certbot != "distro"  # the files of certbot from PyPI, where it may be installed
    return render(
        "scripts/certificate.sh.j2",
        stack=settings.stack,
        families=families_for(settings.distro),
        name=settings.name,
        ip_address=settings.ip_address_certificate,
        acme_server=settings.acme_server,
        acme_profile=settings.certificate_profile or "",
        acme_email=settings.acme_email,
        acme_ca_bundle=settings.acme_ca_bundle,
        host=settings.host,
        precheck_timeout=settings.precheck_timeout,
        webroot=ACME_WEBROOT,
        certificate=layout.certificate,
        renewal_conf=layout.renewal_conf,
        renew_hook=RENEW_HOOK,
        own_cron=RENEWAL_CRON,
        pypi_version=CERTBOT_PYPI_VERSION,
        short_lifetime=int(SHORT_LIFETIME.total_seconds()),
        **_certbot_source(settings),
        files={
            **_host_files(
                renew_hook="renew-hook.sh",
                renewal_service="certbot-renew.service",
                renewal_timer="certbot-renew.timer",
                renewal_cron="certbot-renew.cron",
                renewal_ca_bundle="certbot-renew-ca-bundle.conf",
                ca_bundle=settings.acme_ca_bundle,
                certbot=DISTRO_CERTBOT,
            ),
            **(
                _host_files(
                    pypi_renewal_service="certbot-renew.service",
                    pypi_renewal_cron="certbot-renew.cron",
                    pypi_requirements="certbot-requirements.txt",
                    ca_bundle=settings.acme_ca_bundle,
                    certbot=f"{CERTBOT_VENV}/bin/certbot",
                )
                if pypi
                else {}
            ),
        },
        delimiter=HEREDOC_DELIMITER,
    )


def certbot_plan(settings: Settings) -> str:
    """Which certbot the host will run and why, and whether it renews as the CA's ARI says, as
    preview says it (the step decides on the host; fleet status reads the version it ran)."""
    pypi = f"{CERTBOT_PYPI_VERSION} from PyPI in {CERTBOT_VENV}"
    asks = " and ".join(
        [
            *(
                [f"keep acmeProfile {settings.certificate_profile} at renewal (4.1+, or Debian 13's 4.0)"]
                if settings.certificate_profile
                else []
            ),
            *(["issue for an IP address (5.4+)"] if settings.ip_address_certificate else []),
        ]
    )
    if settings.certbot == "pypi":
        return f"{CERTBOT_PLAN}{pypi} (certbot: pypi), which follows ARI"
    if settings.certbot == "distro":
        plan = "the distribution's (certbot: distro)" + (f"; refused unless it can {asks}" if asks else "")
    elif not asks:
        plan = "the distribution's (PyPI's where an earlier up installed it)"
    else:
        plan = f"the distribution's if it can {asks}, else {pypi}"
    return f"{CERTBOT_PLAN}{plan}; {DISTRO_ARI}"


def certbot_version_in(printed: str | None) -> str | None:
    """The certbot the certificate step ran, from its line ("certbot 2.1.0, the distribution's, ...")."""
    found = CERTBOT_RAN.search(printed or "")
    return found.group(1) if found else None


def _certbot_source(settings: Settings) -> dict[str, str]:
    return {
        "certbot_source": settings.certbot,
        "certbot_venv": CERTBOT_VENV,
        "certbot_venvs": CERTBOT_VENVS,
        "removed_with_certbot": REMOVED_WITH_CERTBOT,
    }


# The certificate step's line that names the certbot it runs (templates/scripts/certificate.sh.j2).
CERTBOT_RAN = re.compile(rf"^{re.escape(SAYS)}certbot (\d+(?:\.\d+)+)[, ]", re.MULTILINE)
# How preview's line on certbot begins (certbot_plan): the fleet command takes it for its table.
CERTBOT_PLAN = "certbot: "
# What the config.toml step prints when it wrote the file and no pactusService restarts the
# node: the endpoint check reads it to name the cause when the node still runs the old file.
RESTART_YOURSELF = "Pactus reads config.toml only at start: restart the node to apply it"


def pactus_config_script(settings: Settings, htpasswd_line: str | None = None) -> str:
    """`htpasswd_line`: the basicAuth secret, when grpc.basicAuth puts it in config.toml."""
    return render(
        "scripts/pactus-config.sh.j2",
        stack=settings.stack,
        pactus_dir=settings.pactus_dir,
        service=settings.pactus_service,
        managed=list(managed_sections(settings, htpasswd_line)),
        content=_heredoc_body(render_managed_sections(settings, htpasswd_line)),
        merge_program=_heredoc_body(MERGE_PROGRAM.read_text()),
        owner_only=settings.grpc.basic_auth,
        api_ports=[api.listen.port for api in (getattr(settings, name) for name in MANAGED_SECTIONS) if api.enable],
        startup_timeout=PACTUS_STARTUP_TIMEOUT,
        backups_kept=CONFIG_BACKUPS_KEPT,
        delimiter=HEREDOC_DELIMITER,
        restart_yourself=RESTART_YOURSELF,
    )


def basic_auth_script(settings: Settings, htpasswd_line: str) -> str:
    """Writes the secret htpasswd line for Nginx; the script is as secret as the line."""
    return render(
        "scripts/basic-auth.sh.j2",
        stack=settings.stack,
        families=families_for(settings.distro),
        path=HostLayout(settings.name).htpasswd,
        content=_heredoc_body(htpasswd_line),
        delimiter=HEREDOC_DELIMITER,
    )


def file_remove_script(settings: Settings, path: str) -> str:
    return render("scripts/file-remove.sh.j2", stack=settings.stack, path=path)


def firewall_ports(settings: Settings) -> list[str]:
    """What the firewall lets in: SSH, HTTP (ACME), HTTPS, and the node's peer-to-peer port(s):
    p2pPort, or the ports of pactusConfig's [network] listen_addrs (UDP too where one says so)."""
    listen_addrs = settings.pactus_config.get("network", {}).get("listen_addrs") or []
    p2p = {f"{port}/{proto}" for proto, port in (MULTIADDR_PORT.findall(" ".join(listen_addrs)))}
    ports = {f"{settings.ssh_port}/tcp", "80/tcp", "443/tcp"} | (p2p or {f"{settings.p2p_port}/tcp"})
    return sorted(ports, key=lambda p: (int(p.split("/")[0]), p))


def firewall_script(settings: Settings) -> str:
    return render(
        "scripts/firewall.sh.j2",
        stack=settings.stack,
        families=families_for(settings.distro),
        ports=firewall_ports(settings),
    )


@dataclass(frozen=True)
class SiteVariant:
    condition: str  # the shell test under which the host takes this content; "" for the last, taken otherwise
    content: str


def _site_install(
    settings: Settings,
    path: str,
    variants: list[SiteVariant],
    *,
    requires: tuple[str, ...] = (),
    default_of_443: bool = False,
    guard: str | None = None,
    guard_content: str | None = None,
) -> str:
    return render(
        "scripts/nginx-site-install.sh.j2",
        stack=settings.stack,
        path=path,
        conditional=[dataclasses.replace(v, content=_heredoc_body(v.content)) for v in variants[:-1]],
        fallback=_heredoc_body(variants[-1].content),
        checks_http2=any("nginx_wants_http2_directive" in v.condition for v in variants),
        checks_njs=any("nginx_runs_njs" in v.condition for v in variants),
        requires=requires,
        default_of_443=default_of_443,
        guard=guard,
        guard_content=guard_content and _heredoc_body(guard_content),
        denied_method=SIGN_WITH_KEY_JSONRPC,
        delimiter=HEREDOC_DELIMITER,
    )


def host_file(name: str, **context: object) -> str:
    """A file a script installs on the host, from templates/host-files."""
    return render(f"host-files/{name}.j2", **context)


def _host_files(ca_bundle: str | None, certbot: str, **names: str) -> dict[str, str]:
    """Each file as the body of a here-document, by the shell function that prints it; `certbot`
    is the program the renewal units run."""
    return {
        function: _heredoc_body(host_file(name, ca_bundle=ca_bundle, certbot=certbot))
        for function, name in names.items()
    }


def _heredoc_body(content: str) -> str:
    """A file's text as a quoted here-document body: ends in a newline, never ends the heredoc early."""
    if any(line.strip() == HEREDOC_DELIMITER for line in content.splitlines()):
        raise ValueError(f"file content holds the line {HEREDOC_DELIMITER}, which would end its here-document")
    return content if content.endswith("\n") else content + "\n"
