"""What the firewall step lets in."""

import pytest

from render import scripts
from testbed.configs import MINIMAL, settings_of


@pytest.mark.parametrize(
    "raw, ports",
    [
        ({}, ["22/tcp", "80/tcp", "443/tcp", "21888/tcp"]),
        ({"p2pPort": "21777"}, ["22/tcp", "80/tcp", "443/tcp", "21777/tcp"]),
        (
            {"pactusConfig": {"network": {"listen_addrs": ["/ip4/0.0.0.0/tcp/21900", "/ip6/::/udp/21900/quic-v1"]}}},
            ["22/tcp", "80/tcp", "443/tcp", "21900/tcp", "21900/udp"],
        ),
    ],
)
def test_the_firewall_keeps_the_nodes_peer_to_peer_port_open(raw, ports):
    assert scripts.firewall_ports(settings_of({**MINIMAL, "firewall": "true", **raw})) == ports
