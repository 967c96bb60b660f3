"""Another distribution on this machine, for one script run at a time.

A mount namespace gives the script the fake's /etc/os-release, /etc/nginx, /etc/letsencrypt,
/etc/systemd/system, /etc/cron.d, /var/lib/pactus-secure and /run (with or without
/run/systemd/system), and stand-ins for the family's package manager, systemctl, SELinux
and firewall tools (firewalld on RedHat, ufw elsewhere), all files under fixtures/fake-root.
The stand-ins keep their state in files and record every call; nginx -t and nginx -v are
the real nginx, on the fake's nginx.conf.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from testbed.certificates import self_signed
from testbed.this_machine import given_back

MOUNTED = ("/etc/nginx", "/etc/letsencrypt", "/etc/systemd/system", "/etc/cron.d", "/var/lib/pactus-secure", "/run")
FIXTURES = Path(__file__).parent / "fixtures" / "fake-root"
FAMILY_OF = {"debian": "debian", "rocky": "redhat", "fedora": "redhat", "arch": "arch", "gentoo": "debian"}


@dataclass
class FakeRoot:
    path: Path
    distro: str  # a key of FAMILY_OF, with its os-release under fixtures/fake-root
    systemd: bool

    def __post_init__(self) -> None:
        family = FAMILY_OF[self.distro]
        self.state = self.path / "state"
        self.bin = self.path / "bin"
        for folder in (self.state, self.bin, *(self.path / m.lstrip("/") for m in MOUNTED)):
            folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / "os-release" / self.distro, self.path / "os-release")
        shutil.copy(FIXTURES / "nginx.conf" / family, self.path / "etc/nginx/nginx.conf")
        shutil.copy("/etc/nginx/mime.types", self.path / "etc/nginx/mime.types")
        if self.systemd:
            (self.path / "run/systemd/system").mkdir(parents=True)
        (self.state / "installed").touch()
        (self.state / "available").write_text("certbot\n" if self.distro == "fedora" else "")
        (self.state / "units").touch()
        self_signed(self.state / "fullchain.pem", self.state / "privkey.pem", name="fake", days=90)
        for stand_in in (*(FIXTURES / "stand-ins" / family).iterdir(), *(FIXTURES / "stand-ins" / "all").iterdir()):
            tool = self.bin / stand_in.name
            tool.write_text(
                f'#!/bin/sh\nSTATE={self.state}\necho "{stand_in.name} $*" >> "$STATE/calls.log"\n'
                + stand_in.read_text()
            )
            tool.chmod(0o755)

    def run(self, script: str, **env: str) -> subprocess.CompletedProcess:
        """The script in the fake; a mount point it makes on this machine (/var/lib/pactus-secure,
        where no node was deployed) goes again after."""
        mounts = "\n".join(f"mkdir -p {m} && mount --bind {self.path}{m} {m}" for m in MOUNTED)
        wrapper = f"set -e\n{mounts}\nmount --bind {self.path}/os-release /etc/os-release\nexec bash -s\n"
        with given_back(MOUNTED):
            return subprocess.run(
                ["unshare", "--mount", "bash", "-c", wrapper],
                input=script,
                capture_output=True,
                text=True,
                env={**os.environ, **env, "PATH": f"{self.bin}:{os.environ['PATH']}"},
            )

    def calls(self) -> list[str]:
        """The stand-ins' calls since the last look."""
        log = self.state / "calls.log"
        calls = log.read_text().splitlines() if log.exists() else []
        log.unlink(missing_ok=True)
        return calls

    def file(self, path: str) -> Path:
        return self.path / path.lstrip("/")
