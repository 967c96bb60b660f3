"""The scripts on every family's host, with and without systemd, in a fake root (tests/host/fake_root.py).

The Debian path also runs for real in test_real_host.py; here each family's package
manager, systemctl, SELinux and firewalld are stand-ins whose calls are the assertions.
"""

from __future__ import annotations

import pytest

from render.host_layout import ACME_WEBROOT, RENEW_HOOK, RENEWAL_CRON
from render.scripts import certificate_script, firewall_script, host_setup_script
from testbed.configs import MINIMAL, settings_of
from tests.host.fake_root import FakeRoot

pytestmark = pytest.mark.host
# distro: auto, read from the fake's /etc/os-release. No HTTP-01 self-check: nothing serves
# port 80 in a fake root (test_faults.py and test_real_host.py check it on this host).
SETTINGS = settings_of({**MINIMAL, "precheckTimeout": "0"})

CHANGES = (
    " install ",
    "pacman -S ",
    "systemctl enable ",
    "systemctl start ",
    "setsebool ",
    "--add-port=",
    "firewall-cmd --reload",
    "ufw allow ",
    "ufw --force enable",
)
DAEMONS_STARTED = ("nginx ", "cron ", "crond ")  # started by hand where systemd is not running


def changes(calls: list[str]) -> list[str]:
    """The calls that change the host, not those that only look."""
    return [call for call in calls if any(word in call for word in CHANGES) or call in DAEMONS_STARTED]


def fake_root(tmp_path, distro, systemd) -> FakeRoot:
    return FakeRoot(tmp_path / "root", distro, systemd)


EXPECTED_SETUP = {
    ("debian", True): [
        "apt-get install -y -q --no-install-recommends nginx certbot ca-certificates",
        "systemctl enable nginx",
        "systemctl start nginx",
    ],
    ("debian", False): ["apt-get install -y -q --no-install-recommends nginx certbot ca-certificates", "nginx "],
    ("rocky", True): [
        "dnf install -y -q epel-release",
        "dnf install -y -q nginx certbot ca-certificates",
        "systemctl enable nginx",
        "systemctl start nginx",
        "firewall-cmd --permanent --add-port=80/tcp",
        "firewall-cmd --permanent --add-port=443/tcp",
        "firewall-cmd --reload",
        "setsebool -P httpd_can_network_connect 1",
    ],
    ("fedora", True): [
        "dnf install -y -q nginx certbot ca-certificates",
        "systemctl enable nginx",
        "systemctl start nginx",
        "firewall-cmd --permanent --add-port=80/tcp",
        "firewall-cmd --permanent --add-port=443/tcp",
        "firewall-cmd --reload",
        "setsebool -P httpd_can_network_connect 1",
    ],
    ("arch", True): [
        "pacman -S --noconfirm --needed nginx certbot ca-certificates",
        "systemctl enable nginx",
        "systemctl start nginx",
    ],
    ("arch", False): ["pacman -S --noconfirm --needed nginx certbot ca-certificates", "nginx "],
}


def hosts(expected: dict) -> dict:
    return {"argvalues": list(expected), "ids": [f"{d}-{'systemd' if s else 'no-systemd'}" for d, s in expected]}


@pytest.mark.parametrize("distro, systemd", **hosts(EXPECTED_SETUP))
def test_host_setup_does_each_familys_work_once(tmp_path, distro, systemd):
    root = fake_root(tmp_path, distro, systemd)
    first = root.run(host_setup_script(SETTINGS))
    assert first.returncode == 0, first.stderr
    assert changes(root.calls()) == EXPECTED_SETUP[distro, systemd]
    assert root.file(ACME_WEBROOT).is_dir()
    nginx_conf = root.file("/etc/nginx/nginx.conf").read_text()
    assert nginx_conf.count("include /etc/nginx/conf.d/*.conf;") == 1

    again = root.run(host_setup_script(SETTINGS))
    assert again.returncode == 0, again.stderr
    assert changes(root.calls()) == []
    assert root.file("/etc/nginx/nginx.conf").read_text() == nginx_conf


@pytest.mark.parametrize("distro", ["debian", "rocky"])
def test_host_setup_leaves_certbot_to_pypi_when_it_comes_from_there(tmp_path, distro):
    """No certbot package, nor EPEL for it: the certificate step installs certbot from PyPI."""
    root = fake_root(tmp_path, distro, True)
    result = root.run(host_setup_script(settings_of({**MINIMAL, "certbot": "pypi"})))
    assert result.returncode == 0, result.stderr
    assert "certbot comes from PyPI (pactus-secure:certbot pypi)" in result.stdout
    installs = [call for call in changes(root.calls()) if " install " in call]
    assert installs == [
        {"debian": "apt-get install -y -q --no-install-recommends", "rocky": "dnf install -y -q"}[distro]
        + " nginx ca-certificates"
    ]


def test_arch_nginx_conf_gets_conf_d_inside_its_http_block_and_still_passes_nginx_t(tmp_path):
    root = fake_root(tmp_path, "arch", True)
    result = root.run(host_setup_script(SETTINGS))
    assert "wrote /etc/nginx/nginx.conf" in result.stdout
    assert "/etc/nginx/nginx.conf includes 'include /etc/nginx/conf.d/*.conf;' in its http block" in result.stdout
    lines = root.file("/etc/nginx/nginx.conf").read_text().splitlines()
    assert lines[lines.index("http {") + 1] == "    include /etc/nginx/conf.d/*.conf;"
    assert any(call.startswith("nginx -t") for call in root.calls())  # checked by the real nginx
    assert not root.file("/etc/nginx/nginx.conf.pactus-secure-previous").exists()


def test_an_nginx_conf_that_cannot_take_the_include_is_left_as_it_was(tmp_path):
    root = fake_root(tmp_path, "arch", True)
    broken = "events {}\nhttp {\n    include /etc/nginx/no-such-file.conf;\n}\n"
    root.file("/etc/nginx/nginx.conf").write_text(broken)
    result = root.run(host_setup_script(SETTINGS))
    assert result.returncode != 0 and "nginx -t rejected /etc/nginx/nginx.conf with conf.d included" in result.stderr
    assert "the previous /etc/nginx/nginx.conf is back" in result.stderr
    assert root.file("/etc/nginx/nginx.conf").read_text() == broken


def test_an_unsupported_distribution_is_named_with_the_fix(tmp_path):
    root = fake_root(tmp_path, "gentoo", True)
    result = root.run(host_setup_script(SETTINGS))
    assert result.returncode != 0
    assert "unsupported distribution Gentoo Linux (ID=gentoo ID_LIKE=)" in result.stderr
    assert "set pactus-secure:distro" in result.stderr
    assert changes(root.calls()) == []


EXPECTED_RENEWAL = {
    ("debian", True): ["systemctl enable --now -- certbot.timer"],
    ("rocky", True): ["systemctl enable --now -- certbot-renew.timer"],
    ("arch", True): ["systemctl enable --now -- pactus-secure-certbot-renew.timer"],
    ("debian", False): ["apt-get install -y -q --no-install-recommends cron", "cron "],
    ("arch", False): ["pacman -S --noconfirm --needed cronie", "crond "],
}


@pytest.mark.parametrize("distro, systemd", **hosts(EXPECTED_RENEWAL))
def test_certificate_is_issued_once_and_renewal_is_scheduled_the_familys_way(tmp_path, distro, systemd):
    root = fake_root(tmp_path, distro, systemd)
    first = root.run(certificate_script(SETTINGS))
    assert first.returncode == 0, first.stderr
    calls = root.calls()
    assert [call for call in calls if call.startswith("certbot certonly")] == [
        f"certbot certonly --webroot -w {ACME_WEBROOT} -d node1.example.com --cert-name node1.example.com "
        "--server https://acme-v02.api.letsencrypt.org/directory --email=ops@example.com --agree-tos --non-interactive "
        f"--no-eff-email --keep-until-expiring --deploy-hook {RENEW_HOOK}"
    ]
    scheduled = [call for call in changes(calls) if not call.startswith("certbot ")]
    assert scheduled == EXPECTED_RENEWAL[distro, systemd]
    issued = next(index for index, call in enumerate(calls) if call.startswith("certbot certonly"))
    assert all(calls.index(call) < issued for call in scheduled)  # a failed issuance leaves renewals scheduled
    if distro == "arch" and systemd:  # Arch's certbot ships no timer: the program's own
        assert (
            "ExecStart=/usr/bin/certbot -q renew"
            in root.file("/etc/systemd/system/pactus-secure-certbot-renew.service").read_text()
        )
        assert "systemctl daemon-reload" in calls
    if not systemd:
        assert "certbot -q renew" in root.file(RENEWAL_CRON).read_text()
    assert root.file(RENEW_HOOK).stat().st_mode & 0o111

    again = root.run(certificate_script(SETTINGS))
    assert again.returncode == 0, again.stderr
    assert "is not due for renewal: kept" in again.stdout
    assert [call for call in changes(root.calls()) if "enable" in call or call.startswith("certbot certonly")] == []


PRIVATE_CA = "/etc/pactus-secure/acme-ca.pem"


@pytest.mark.parametrize("distro, systemd", [("debian", True), ("rocky", True), ("arch", True), ("debian", False)])
def test_scheduled_renewals_trust_the_private_acme_servers_ca_bundle(tmp_path, distro, systemd):
    settings = settings_of(
        {
            **MINIMAL,
            "acmeServer": "https://acme.internal.example/dir",
            "acmeCaBundle": PRIVATE_CA,
            "precheckTimeout": "0",
        }
    )
    root = fake_root(tmp_path, distro, systemd)
    first = root.run(certificate_script(settings))
    assert first.returncode == 0, first.stderr
    if systemd:
        service = {"debian": "certbot", "rocky": "certbot-renew", "arch": "pactus-secure-certbot-renew"}[distro]
        drop_in = root.file(f"/etc/systemd/system/{service}.service.d/pactus-secure-ca-bundle.conf")
        assert drop_in.read_text() == f"[Service]\nEnvironment=REQUESTS_CA_BUNDLE={PRIVATE_CA}\n"
        assert "systemctl daemon-reload" in root.calls()
    else:
        cron = root.file(RENEWAL_CRON).read_text()
        assert f"\nREQUESTS_CA_BUNDLE={PRIVATE_CA}\n17 */12 * * * root" in cron
    again = root.run(certificate_script(settings))
    assert again.returncode == 0 and "wrote" not in again.stdout, again.stdout


FIREWALL_SETTINGS = settings_of({**MINIMAL, "sshPort": "2222", "firewall": "true"})
EXPECTED_FIREWALL = {
    ("debian", False): [
        "apt-get install -y -q --no-install-recommends ufw",
        "ufw allow 80/tcp",
        "ufw allow 443/tcp",
        "ufw allow 2222/tcp",
        "ufw allow 21888/tcp",
        "ufw --force enable",
    ],
    ("arch", True): [
        "pacman -S --noconfirm --needed ufw",
        "ufw allow 80/tcp",
        "ufw allow 443/tcp",
        "ufw allow 2222/tcp",
        "ufw allow 21888/tcp",
        "ufw --force enable",
    ],
    ("rocky", True): [
        "dnf install -y -q firewalld",
        "firewall-cmd --permanent --add-port=80/tcp",
        "firewall-cmd --permanent --add-port=443/tcp",
        "firewall-cmd --permanent --add-port=2222/tcp",
        "firewall-cmd --permanent --add-port=21888/tcp",
        "firewall-cmd --reload",
    ],
}


@pytest.mark.parametrize("distro, systemd", **hosts(EXPECTED_FIREWALL))
def test_firewall_lets_in_ssh_http_https_and_p2p_before_it_is_on_and_then_changes_nothing(tmp_path, distro, systemd):
    root = fake_root(tmp_path, distro, systemd)
    first = root.run(firewall_script(FIREWALL_SETTINGS))
    assert first.returncode == 0, first.stderr
    assert changes(root.calls()) == EXPECTED_FIREWALL[distro, systemd]  # SSH allowed before anything is turned on
    again = root.run(firewall_script(FIREWALL_SETTINGS))
    assert again.returncode == 0, again.stderr
    assert changes(root.calls()) == [] and "allows 2222/tcp" in again.stdout


def test_firewalld_that_is_not_running_without_systemd_fails_clearly(tmp_path):
    root = fake_root(tmp_path, "rocky", False)
    (root.state / "firewalld-down").touch()
    result = root.run(firewall_script(FIREWALL_SETTINGS))
    assert result.returncode != 0
    assert "firewalld is not running and cannot be started without systemd" in result.stderr
    assert not [call for call in root.calls() if "--add-port" in call]
