"""Per-distribution facts as data. Scripts are rendered from these, never branch on names.

`os_ids` are matched against ID and ID_LIKE of /etc/os-release, so derivatives (Ubuntu,
Rocky, Alma, Manjaro...) land in their family.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DistroFamily:
    name: str
    os_ids: tuple[str, ...]
    refresh_index: str           # run once before installing, "" where the installer refreshes itself
    install: str                 # followed by package names
    is_installed: str            # shell test of package "$1"; exit 0 when installed
    packages: tuple[str, ...]    # nginx, certbot and what they need
    cron_package: str            # schedules renewals where systemd is not running
    cron_daemon: str
    certbot_timer: str           # the timer the certbot package ships, "" if none
    nginx_group: str             # Nginx's workers run in it; they read the htpasswd file
    package_available: str       # shell test: package "$1" can be installed from the enabled repositories
    extra_repository: str        # the package that enables the repository certbot comes from, "" if none
    install_extra_repository: str
    firewall: str                # the firewall the family manages hosts with: ufw or firewalld


FAMILIES: dict[str, DistroFamily] = {
    family.name: family
    for family in (
        DistroFamily(
            name="debian",
            os_ids=("debian", "ubuntu"),
            refresh_index="apt-get update -q",
            install="DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends",
            is_installed="dpkg-query -W -f='${db:Status-Status}' \"$1\" 2>/dev/null | grep -qx installed",
            packages=("nginx", "certbot", "ca-certificates"),
            cron_package="cron",
            cron_daemon="cron",
            certbot_timer="certbot.timer",
            nginx_group="www-data",
            package_available='apt-cache show "$1" >/dev/null 2>&1',
            extra_repository="",
            install_extra_repository="",
            firewall="ufw",
        ),
        DistroFamily(
            name="redhat",
            os_ids=("rhel", "fedora", "centos"),
            refresh_index="",
            install="dnf install -y -q",
            is_installed='rpm -q "$1" >/dev/null 2>&1',
            packages=("nginx", "certbot", "ca-certificates"),
            cron_package="cronie",
            cron_daemon="crond",
            certbot_timer="certbot-renew.timer",
            nginx_group="nginx",
            package_available='dnf -q info "$1" >/dev/null 2>&1',
            # RHEL and its rebuilds carry certbot in EPEL only; Fedora in its own repositories.
            extra_repository="epel-release",
            install_extra_repository='dnf install -y -q epel-release || dnf install -y -q '
                                     '"https://dl.fedoraproject.org/pub/epel/epel-release-latest-$(rpm -E %rhel).noarch.rpm"',
            firewall="firewalld",
        ),
        DistroFamily(
            name="arch",
            os_ids=("arch",),
            refresh_index="",
            install="pacman -S --noconfirm --needed",
            is_installed='pacman -Q "$1" >/dev/null 2>&1',
            packages=("nginx", "certbot", "ca-certificates"),
            cron_package="cronie",
            cron_daemon="crond",
            certbot_timer="",
            nginx_group="http",
            package_available='pacman -Si "$1" >/dev/null 2>&1',
            extra_repository="",
            install_extra_repository="",
            firewall="ufw",
        ),
    )
}


def families_for(distro: str) -> list[DistroFamily]:
    """The families a script must know: all of them when the host is detected at run time."""
    return list(FAMILIES.values()) if distro == "auto" else [FAMILIES[distro]]
