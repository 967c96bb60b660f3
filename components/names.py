"""The logical names of a node's resources. They are fixed: no setting is part of a URN, so a
new domain replaces only the steps whose `triggers` name it. Tests and benchmarks use these."""

from components.host_base import HostBase
from components.node_config import NodeConfig
from components.proxy import Proxy

NODE = "node"
DNS = f"{NODE}-dns"
HOST = f"{NODE}-host"
PROXY = f"{NODE}-proxy"
PACTUS = f"{NODE}-pactus"
CHECK = f"{NODE}-endpoint-check"  # the public endpoint, called as a user would after a change

# The steps: one remote command each, in the order a first deployment runs them (config.toml
# runs alongside the others).
PACKAGES = f"{HOST}-{HostBase.PACKAGES}"
FIREWALL = f"{HOST}-{HostBase.FIREWALL}"
HTTP_SITE = f"{PROXY}-{Proxy.HTTP_SITE}"
CERTIFICATE = f"{PROXY}-{Proxy.CERTIFICATE}"
CREDENTIAL = f"{PROXY}-{Proxy.CREDENTIAL}"
TLS_SITE = f"{PROXY}-{Proxy.TLS_SITE}"
CONFIG_TOML = f"{PACTUS}-{NodeConfig.CONFIG_TOML}"
STEPS = (PACKAGES, FIREWALL, HTTP_SITE, CERTIFICATE, CREDENTIAL, TLS_SITE, CONFIG_TOML)
# Those every node has, in order: the firewall and the credential come with their settings.
REQUIRED_STEPS = (PACKAGES, HTTP_SITE, CERTIFICATE, TLS_SITE, CONFIG_TOML)
