"""Per-distribution facts, as data: scripts are rendered from these and never branch on a name.

A family writes only what differs from the defaults. `os_ids` are matched against ID and
ID_LIKE of /etc/os-release, so derivatives (Ubuntu, Rocky, Alma, Manjaro...) land in their
family. How a package manager is driven is shell, in
templates/scripts/lib/package-managers/<package_manager>.sh.j2.
"""

from __future__ import annotations

from dataclasses import dataclass

from settings.constants import DISTRO_FAMILIES


@dataclass(frozen=True)
class DistroFamily:
    name: str
    os_ids: tuple[str, ...]
    package_manager: str  # apt, dnf or pacman
    packages: tuple[str, ...] = ("nginx", "certbot", "ca-certificates")  # nginx, certbot and what they need
    cron_package: str = "cronie"  # schedules renewals where systemd is not running
    cron_daemon: str = "crond"
    certbot_timer: str = ""  # the timer the certbot package ships, "" if none
    nginx_group: str = "nginx"  # Nginx's workers run in it; they read the htpasswd file
    extra_repository: str = ""  # the package that enables the repository certbot comes from
    firewall: str = "ufw"  # the firewall the family manages hosts with: ufw or firewalld
    venv_packages: tuple[str, ...] = ("python",)  # what `python3 -m venv` needs, for certbot from PyPI
    ca_bundle: str = "/etc/ssl/certs/ca-certificates.crt"  # the system's trust store: pip trusts it
    # Nginx's JavaScript module (njs), which the stock nginx.conf loads once installed. None in
    # RHEL's and EPEL's repositories (nginx.org's has nginx-module-njs, for its own nginx); Arch's
    # nginx-mod-njs wants a load_module line in nginx.conf, which the program does not write.
    njs_packages: tuple[str, ...] = ()


_FACTS = (
    DistroFamily(
        name="debian",
        os_ids=("debian", "ubuntu"),
        package_manager="apt",
        cron_package="cron",
        cron_daemon="cron",
        certbot_timer="certbot.timer",
        nginx_group="www-data",
        venv_packages=("python3-venv",),
        njs_packages=("libnginx-mod-http-js",),
    ),
    # RHEL and its rebuilds carry certbot in EPEL only; Fedora in its own repositories.
    DistroFamily(
        name="redhat",
        os_ids=("rhel", "fedora", "centos"),
        package_manager="dnf",
        certbot_timer="certbot-renew.timer",
        extra_repository="epel-release",
        firewall="firewalld",
        venv_packages=("python3",),
        ca_bundle="/etc/pki/tls/certs/ca-bundle.crt",
    ),
    DistroFamily(name="arch", os_ids=("arch",), package_manager="pacman", nginx_group="http"),
)
# By the names the settings accept (settings/constants.py), in that order.
FAMILIES: dict[str, DistroFamily] = {name: {f.name: f for f in _FACTS}[name] for name in DISTRO_FAMILIES}


def families_for(distro: str) -> list[DistroFamily]:
    """The families a script must know: all of them when the host is detected at run time."""
    return list(FAMILIES.values()) if distro == "auto" else [FAMILIES[distro]]
