"""tools/setup on the operator's machine: `./demo up` installs only what the demo runs here,
none of it a service; and a package of the test toolset that ships one (openssh-server,
nginx, caddy) is left disabled and stopped where systemd runs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

SETUP = Path(__file__).resolve().parents[1] / "tools" / "setup"


def package_list(name: str) -> list[str]:
    match = re.search(rf"^{name}=\(([^)]*)\)", SETUP.read_text(), re.MULTILINE)
    assert match, name
    return match.group(1).split()


@pytest.mark.parametrize("package", package_list("demo_packages"))
def test_the_demo_installs_no_service(package):
    """No init script, and no unit an install enables (one a boot target or sockets.target wants)."""
    files = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=True).stdout.split()
    assert not [f for f in files if f.startswith("/etc/init.d/")]
    units = [Path(f) for f in files if re.search(r"/systemd/system/[^/@]+\.(service|socket|timer)$", f)]
    enabled_by_install = [
        unit
        for unit in units
        if re.search(r"^WantedBy=.*(multi-user|sockets|timers|graphical)\.target", unit.read_text(), re.MULTILINE)
    ]
    assert enabled_by_install == []


def test_the_demo_needs_less_than_the_tests():
    assert set(package_list("demo_packages")) < set(package_list("test_packages")) | {"ca-certificates"}
    assert not {"nginx", "openssh-server", "caddy"} & set(package_list("demo_packages"))


def test_what_an_install_enabled_is_disabled_and_stopped(tmp_path):
    """dpkg and systemctl are stand-ins (this machine runs no systemd): the point is which
    units the function turns off."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dpkg").write_text(
        "#!/bin/sh\nprintf '%s\\n' /lib/systemd/system/ssh.service /lib/systemd/system/ssh@.service "
        "/lib/systemd/system/ssh.socket /usr/lib/systemd/system/rescue-ssh.target /usr/sbin/sshd\n"
    )
    (bin_dir / "systemctl").write_text(
        f'#!/bin/sh\necho "$*" >>{tmp_path}/calls\n[ "$1" != is-enabled ] || [ "$3" = ssh.service ]\n'
    )
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    function = subprocess.run(["sed", "-n", "/^keep_services_off()/,/^}/p", str(SETUP)], capture_output=True, text=True)
    ran = subprocess.run(
        ["bash", "-c", f"set -euo pipefail\n{function.stdout}\nkeep_services_off openssh-server"],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 0, ran.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == [
        "is-enabled --quiet ssh.service",
        "disable --now --quiet ssh.service",
        "is-enabled --quiet ssh.socket",
    ]
    assert "openssh-server's ssh.service disabled and stopped" in ran.stdout
