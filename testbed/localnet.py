"""A localnet chain across the suite's servers, so that their nodes make blocks.

The producer holds all four of localnet's validators (restored from MNEMONIC) and makes a
block about every 10 s by itself. Each follower has a wallet of its own, takes the
producer's genesis.json and syncs from it over libp2p.

Only followers dial, and only the producer: mDNS is off on every node, and a follower listens
on its loopback alone. Two nodes that dial each other at once (by mDNS and the bootstrap
address, or a producer redialling a follower that restarts) each see the other as inbound,
and neither sends Hello, so no block is ever downloaded (pactus 1.16, sync/sync.go,
processProtocolsEvent).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import tomlkit

from testbed.pactus_node import MNEMONIC

P2P_PORT = 21888
# BIP-39's second test mnemonic: the followers' throwaway wallet, whose validators are not in the genesis.
FOLLOWER_MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"
# `pactus-daemon init`'s flags for each (localnet needs four validators in every wallet).
PRODUCER_NODE = f"--localnet --val-num 4 --restore '{MNEMONIC}'"
FOLLOWER_NODE = f"--localnet --val-num 4 --restore '{FOLLOWER_MNEMONIC}'"
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass(frozen=True)
class Producer:
    address: str  # its server's
    genesis: str  # genesis.json, as `pactus-daemon init --localnet` wrote it there
    peer_id: str

    @property
    def bootstrap_address(self) -> str:
        return f"/ip4/{self.address}/tcp/{P2P_PORT}/p2p/{self.peer_id}"


def make_producer(pactus_dir: Path, address: str) -> Producer:
    """Turns a node made by `init --localnet --restore MNEMONIC` into the chain's producer:
    a network key made here, so that followers know its peer ID before it first starts."""
    seed, public = _ed25519_key()
    # libp2p's marshalled private key (type Ed25519, 64 bytes: seed then public key), in hex as pactus keeps it.
    _write_as_owner(pactus_dir / "network_key", (bytes([8, 1, 18, 64]) + seed + public).hex(), pactus_dir)
    _set_network(pactus_dir, listen_addrs=[f"/ip4/0.0.0.0/tcp/{P2P_PORT}"])
    return Producer(address, (pactus_dir / "genesis.json").read_text(), _peer_id(public))


def make_follower(pactus_dir: Path, producer: Producer) -> None:
    """A node made by `init --localnet --restore FOLLOWER_MNEMONIC` joins the producer's chain."""
    _write_as_owner(pactus_dir / "genesis.json", producer.genesis, pactus_dir)
    loopback = f"/ip4/127.0.0.1/tcp/{P2P_PORT}"
    _set_network(pactus_dir, listen_addrs=[loopback], bootstrap_addrs=[producer.bootstrap_address])


def _set_network(pactus_dir: Path, **values: list[str]) -> None:
    config_path = pactus_dir / "config.toml"
    config = tomlkit.parse(config_path.read_text())
    config["network"]["enable_mdns"] = False
    for module in ("_network", "_sync"):  # connections and handshakes in the journal, for a test that fails
        config["logger"]["levels"][module] = "info"
    for key, value in values.items():
        config["network"][key] = value
    _write_as_owner(config_path, tomlkit.dumps(config), pactus_dir)


def _write_as_owner(path: Path, text: str, pactus_dir: Path) -> None:
    """Written with the owner of the node's folder (the server's `pactus` user), readable by it alone."""
    owner = pactus_dir.stat()
    path.touch(mode=0o600)
    path.chmod(0o600)  # before the text goes in: the network key is never readable by others
    path.write_text(text)
    os.chown(path, owner.st_uid, owner.st_gid)


def _ed25519_key() -> tuple[bytes, bytes]:
    """A new key's 32-byte seed and public key, by OpenSSL through pipes (no key file on this machine)."""
    private = subprocess.run(
        ["openssl", "genpkey", "-algorithm", "ed25519", "-outform", "DER"], capture_output=True, check=True
    ).stdout
    public = subprocess.run(
        ["openssl", "pkey", "-inform", "DER", "-pubout", "-outform", "DER"],
        input=private,
        capture_output=True,
        check=True,
    ).stdout
    return private[-32:], public[-32:]  # PKCS#8 and SubjectPublicKeyInfo end with the raw key


def _peer_id(public: bytes) -> str:
    """libp2p's peer ID of an Ed25519 key: the identity multihash of the marshalled public key, in base58."""
    digest = bytes([0, 36, 8, 1, 18, 32]) + public
    number, text = int.from_bytes(digest, "big"), ""
    while number:
        number, digit = divmod(number, 58)
        text = BASE58[digit] + text
    return "1" + text  # base58 writes the multihash's leading zero byte (the identity code) as a "1"
