"""Stack configs for the unit tests, as `pulumi config set` would store them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from settings import Settings, parse_settings
from testbed.credentials import SECRETS

STACK = "mainnet-node1"
MINIMAL = {
    "domain": "node1.example.com",
    "host": "203.0.113.10",
    "acmeEmail": "ops@example.com",
    "manageDns": "false",
}
FULL = {
    **MINIMAL,
    "manageDns": "true",
    "cloudflareZoneId": "0123456789abcdef0123456789abcdef",
    "sshHost": "10.0.0.5",
    "sshPort": "2222",
    "sshUser": "deploy",
    "acmeServer": "staging",
    "distro": "debian",
    "pactusService": "pactus.service",
    "grpc": {"enable": True, "listen": "127.0.0.1:50051"},
    "jsonrpc": {"enable": True, "listen": "127.0.0.1:8545", "origins": ["https://wallet.example.com"]},
    "http": {"enable": True, "listen": "127.0.0.1:8080"},
    "pactusConfig": {"node": {"reward_addresses": ["pc1zexampleaddress"]}},
}


# The Wallet service through the proxy: only behind the credential, checked by the node too.
WALLET = {**FULL, "exposeWallet": "true", "grpc": {**FULL["grpc"], "basicAuth": True}}
# A node without a domain: its certificate is for its IP address (Let's Encrypt's shortlived profile).
IP_ADDRESS_NODE = {"host": "203.0.113.10", "acmeEmail": "ops@example.com", "ipAddressCertificate": "true"}

FLEET = ("mainnet-node1", "mainnet-node2", "testnet-node1")  # the example stacks in examples/fleet


def fleet_stack(stack: str) -> dict[str, Any]:
    """An example stack's config as the CLI hands it to the program: project values, the stack's over them."""
    fleet = Path(__file__).resolve().parent.parent / "examples" / "fleet"
    project = yaml.safe_load((fleet / "Pulumi.yaml").read_text())["config"]
    values = {k: v["value"] if isinstance(v, dict) else v for k, v in project.items()}
    values |= yaml.safe_load((fleet / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {key.split(":", 1)[1]: value for key, value in values.items()}


def settings_of(raw: dict[str, Any], *, stack: str = "test", secrets: dict[str, str] = SECRETS) -> Settings:
    """Settings as the program would parse them from a stack config with these secrets set."""
    return parse_settings(raw, stack=stack, secrets=secrets)
