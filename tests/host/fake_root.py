"""Another distribution on this machine, for one script run at a time.

A mount namespace gives the script the fake's /etc/os-release, /etc/nginx, /etc/letsencrypt,
/etc/systemd/system, /etc/cron.d, /var/lib/pactus-secure and /run (with or without
/run/systemd/system), and stand-ins for the family's package manager, systemctl, SELinux
and firewall tools (firewalld on RedHat, ufw elsewhere). The stand-ins keep their state in files and record every call; nginx
-t and nginx -v are the real nginx, on the fake's nginx.conf.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

MOUNTED = ("/etc/nginx", "/etc/letsencrypt", "/etc/systemd/system", "/etc/cron.d", "/var/lib/pactus-secure", "/run")

# Each stand-in: a sh body. $STATE is the stand-ins' state folder; `installed` lists packages.
PACKAGE_TOOLS = {
    "debian": {
        "apt-get": 'case "$*" in *install*) for p in "$@"; do case "$p" in -*|install) ;; *) echo "$p" >> "$STATE/installed" ;; esac; done ;; esac',
        "dpkg-query": 'p=$(eval echo "\\${$#}"); grep -qx "$p" "$STATE/installed" && echo installed',
        "apt-cache": "exit 0",
    },
    "redhat": {
        "dnf": """case "$1 $2" in
  "install -y") for p in "$@"; do case "$p" in -*|install) ;; *) echo "$p" >> "$STATE/installed" ;; esac; done ;;
  "-q info") grep -qx "$3" "$STATE/available" || { grep -qx epel-release "$STATE/installed" && [ "$3" = certbot ]; } ;;
esac""",
        "rpm": 'case "$1" in -q) grep -qx "$2" "$STATE/installed" ;; -E) echo 9 ;; esac',
    },
    "arch": {
        "pacman": """case "$1" in
  -S) for p in "$@"; do case "$p" in -*) ;; *) echo "$p" >> "$STATE/installed" ;; esac; done ;;
  -Q) grep -qx "$2" "$STATE/installed" ;;
  -Si) exit 0 ;;
esac""",
    },
}
SYSTEMCTL = """args=$(echo "$*" | sed 's/--quiet //g; s/-- //g')
case "$args" in
  is-enabled*) grep -qx "enabled ${args#is-enabled }" "$STATE/units" ;;
  is-active*) grep -qx "active ${args#is-active }" "$STATE/units" ;;
  "enable --now "*) echo "enabled ${args#enable --now }" >> "$STATE/units"; echo "active ${args#enable --now }" >> "$STATE/units" ;;
  enable*) echo "enabled ${args#enable }" >> "$STATE/units" ;;
  start*) echo "active ${args#start }" >> "$STATE/units" ;;
esac"""
SELINUX = {
    "getenforce": "echo Enforcing",
    "getsebool": 'if [ -f "$STATE/sebool-on" ]; then echo "$1 --> on"; else echo "$1 --> off"; fi',
    "setsebool": 'touch "$STATE/sebool-on"',
}
FIREWALLD = {
    "firewall-cmd": """touch "$STATE/ports"
case "$*" in
  --state) [ -f "$STATE/firewalld-down" ] && exit 252; echo running ;;
  "--permanent --query-port="*) grep -qx "${2#--query-port=}" "$STATE/ports" ;;
  "--permanent --add-port="*) echo "${2#--add-port=}" >> "$STATE/ports" ;;
esac""",
}
UFW = {
    "ufw": """touch "$STATE/ufw-rules"
case "$1" in
  show) echo "Added user rules (see 'ufw status' for running firewall):"; cat "$STATE/ufw-rules" ;;
  status) if [ -f "$STATE/ufw-active" ]; then echo "Status: active"; else echo "Status: inactive"; fi ;;
  allow) echo "ufw allow $2" >> "$STATE/ufw-rules" ;;
  --force) touch "$STATE/ufw-active" ;;
esac""",
}
# nginx: the real one checks and reports its version; a start is recorded, and its pid file
# names a process that lives (init), so the next run sees it running.
NGINX = 'case "$1" in -t|-v|-T) exec /usr/sbin/nginx "$@" ;; *) echo 1 > /run/nginx.pid ;; esac'
CERTBOT = """DOMAIN=$(echo "$*" | sed -n 's/.* -d \\([^ ]*\\).*/\\1/p')
mkdir -p "/etc/letsencrypt/live/$DOMAIN" /etc/letsencrypt/renewal
cp "$STATE/fullchain.pem" "/etc/letsencrypt/live/$DOMAIN/fullchain.pem"
cp "$STATE/privkey.pem" "/etc/letsencrypt/live/$DOMAIN/privkey.pem"
server=$(echo "$*" | sed -n 's/.*--server \\([^ ]*\\).*/\\1/p')
printf 'server = %s\\n' "$server" > "/etc/letsencrypt/renewal/$DOMAIN.conf"
"""

OS_RELEASE = {
    "debian": 'ID=ubuntu\nID_LIKE=debian\nPRETTY_NAME="Ubuntu 24.04 LTS"\n',
    "rocky": 'ID="rocky"\nID_LIKE="rhel centos fedora"\nPRETTY_NAME="Rocky Linux 9.4"\n',
    "fedora": 'ID=fedora\nPRETTY_NAME="Fedora Linux 40"\n',
    "arch": 'ID=arch\nPRETTY_NAME="Arch Linux"\n',
    "gentoo": 'ID=gentoo\nPRETTY_NAME="Gentoo Linux"\n',
}
FAMILY_OF = {"debian": "debian", "rocky": "redhat", "fedora": "redhat", "arch": "arch", "gentoo": "debian"}

# The stock nginx.conf's of the families, reduced to what matters here: Debian and RedHat
# include conf.d, Arch does not.
NGINX_CONF = {
    "debian": "events {}\nhttp {\n    include /etc/nginx/mime.types;\n    include /etc/nginx/conf.d/*.conf;\n}\n",
    "redhat": "events {}\nhttp {\n    include /etc/nginx/mime.types;\n    include /etc/nginx/conf.d/*.conf;\n}\n",
    "arch": ("worker_processes  1;\n\nevents {\n    worker_connections  1024;\n}\n\n\nhttp {\n    include       mime.types;\n"
             "    default_type  application/octet-stream;\n    sendfile        on;\n    keepalive_timeout  65;\n\n"
             "    server {\n        listen       80;\n        server_name  localhost;\n        location / {\n"
             "            root   /usr/share/nginx/html;\n            index  index.html index.htm;\n        }\n    }\n}\n"),
}


@dataclass
class FakeRoot:
    path: Path
    distro: str            # a key of OS_RELEASE
    systemd: bool

    def __post_init__(self) -> None:
        family = FAMILY_OF[self.distro]
        self.state = self.path / "state"
        self.bin = self.path / "bin"
        for folder in (self.state, self.bin, *(self.path / m.lstrip("/") for m in MOUNTED)):
            folder.mkdir(parents=True, exist_ok=True)
        (self.path / "os-release").write_text(OS_RELEASE[self.distro])
        (self.path / "etc/nginx/nginx.conf").write_text(NGINX_CONF[family])
        shutil.copy("/etc/nginx/mime.types", self.path / "etc/nginx/mime.types")
        if self.systemd:
            (self.path / "run/systemd/system").mkdir(parents=True)
        (self.state / "installed").touch()
        (self.state / "available").write_text("certbot\n" if self.distro == "fedora" else "")
        (self.state / "units").touch()
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "90", "-subj", "/CN=fake",
                        "-keyout", str(self.state / "privkey.pem"), "-out", str(self.state / "fullchain.pem")],
                       check=True, capture_output=True)
        tools = {**PACKAGE_TOOLS[family], "systemctl": SYSTEMCTL, "nginx": NGINX, "certbot": CERTBOT,
                 "cron": "echo 1 > /run/crond.pid", "crond": "echo 1 > /run/crond.pid"}
        tools |= {**SELINUX, **FIREWALLD} if family == "redhat" else UFW
        for name, body in tools.items():
            tool = self.bin / name
            tool.write_text(f'#!/bin/sh\nSTATE={self.state}\necho "{name} $*" >> "$STATE/calls.log"\n{body}\n')
            tool.chmod(0o755)

    def run(self, script: str, **env: str) -> subprocess.CompletedProcess:
        mounts = "\n".join(f"mkdir -p {m} && mount --bind {self.path}{m} {m}" for m in MOUNTED)
        wrapper = f"set -e\n{mounts}\nmount --bind {self.path}/os-release /etc/os-release\nexec bash -s\n"
        return subprocess.run(["unshare", "--mount", "bash", "-c", wrapper], input=script, capture_output=True,
                              text=True, env={**os.environ, **env, "PATH": f"{self.bin}:{os.environ['PATH']}"})

    def calls(self) -> list[str]:
        """The stand-ins' calls since the last look."""
        log = self.state / "calls.log"
        calls = log.read_text().splitlines() if log.exists() else []
        log.unlink(missing_ok=True)
        return calls

    def file(self, path: str) -> Path:
        return self.path / path.lstrip("/")
