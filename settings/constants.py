"""Values the settings and the renderers share; this module imports nothing of the program."""

from __future__ import annotations

import ipaddress
import re

LETSENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
ACME_SERVER_ALIASES = {"production": LETSENCRYPT_PRODUCTION, "staging": LETSENCRYPT_STAGING}

# The distribution families render/distros.py holds the facts of; `auto` detects one on the host.
DISTRO_FAMILIES = ("debian", "redhat", "arch")
DISTROS = ("auto", *DISTRO_FAMILIES)

# Where a Pactus API may listen with `allowPrivateListen`: networks no internet client reaches.
PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))

# Where Pactus's guide ("Connect GUI to Remote Node") has users point the GUI: https://<node>/grpc-web.
GUI_GRPC_PREFIX = "/grpc-web"

# Where Pactus's debug pages server answers Prometheus (www/html/server.go).
METRICS_PATH = "/metrics/prometheus"

# The sections the program writes itself, from the keys of the same names.
MANAGED_SECTIONS = ("grpc", "jsonrpc", "http", "html")

MULTIADDR_PORT = re.compile(r"/(tcp|udp)/(\d+)")  # in a libp2p address: (protocol, port)

# Where certbot comes from: `auto` takes the distribution's where it does what the stack asks.
CERTBOT_SOURCES = ("auto", "distro", "pypi")
CERTBOT_PYPI_VERSION = "5.8.0"  # pinned with hashes in templates/host-files/certbot-requirements.txt.j2
CERTBOT_VENV = "/opt/certbot"  # where certbot's own pip instructions put it: a link to the venv in use
CERTBOT_VENVS = "/opt/pactus-secure-certbot"  # the venvs, one for each set of pins
# Where earlier versions of the program put the venv a new pin replaced; removed when found.
CERTBOT_VENV_PREVIOUS = CERTBOT_VENV + ".previous"
# Let's Encrypt issues certificates for IP addresses under this profile only, for 160 hours.
IP_ADDRESS_PROFILE = "shortlived"

# The program's own folder on the host; its ACME webroot (render/host_layout.py) is served on port 80.
PROGRAM_DIR = "/var/lib/pactus-secure"
