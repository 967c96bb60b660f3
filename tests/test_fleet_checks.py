"""The fleet's checks before any stack runs, on the settings the program itself reads: what
two stacks must not share however it is spelt, and a stack config refused as the program
refuses it (no traceback, the same token rules)."""

from __future__ import annotations

import json

import pytest
from pulumi import automation as auto

from fleet.checks import clashes, read_all
from testbed.configs import IP_ADDRESS_NODE, MINIMAL, settings_of
from testbed.credentials import SECRETS

SECRET_KEYS = {"pactus-secure:sshPrivateKey": auto.ConfigValue(SECRETS["sshPrivateKey"], secret=True)}


def config_values(raw: dict) -> dict[str, auto.ConfigValue]:
    """A stack's config as the Automation API lists it: full keys, strings, objects as JSON."""
    return {
        f"pactus-secure:{key}": auto.ConfigValue(value if isinstance(value, str) else json.dumps(value))
        for key, value in raw.items()
    } | SECRET_KEYS


def test_two_spellings_of_one_domain_clash():
    nodes = {
        "a": settings_of({**MINIMAL, "domain": "Node1.Example.com"}),
        "b": settings_of(MINIMAL | {"domain": "node1.example.com.", "pactusDir": "/home/b/pactus"}),
    }
    assert clashes(nodes) == [
        "stacks a and b share the name node1.example.com (its site and certificate): give each its own"
    ]


def test_two_spellings_of_one_pactus_dir_on_one_host_clash():
    one = {**MINIMAL, "pactusDir": "/home/pactus/pactus/"}
    two = {**MINIMAL, "domain": "node2.example.com", "pactusDir": "/home/pactus/pactus"}
    assert clashes({"a": settings_of(one), "b": settings_of(two)}) == [
        "stacks a and b share pactusDir /home/pactus/pactus on 203.0.113.10: give each its own"
    ]


def test_two_ip_address_nodes_on_one_server_clash_over_its_default_server():
    two = {**IP_ADDRESS_NODE, "host": "203.0.113.11", "sshHost": "203.0.113.10", "pactusDir": "/home/two/pactus"}
    problems = clashes({"a": settings_of(IP_ADDRESS_NODE), "b": settings_of(two)})
    assert problems == ["stacks a and b share the default server of :443 on 203.0.113.10: give each its own"]


def test_certbot_distro_beside_another_source_on_one_host_clashes():
    ip_node = {**IP_ADDRESS_NODE, "pactusDir": "/home/ip/pactus"}
    problems = clashes({"a": settings_of({**MINIMAL, "certbot": "distro"}), "b": settings_of(ip_node)})
    assert problems == [
        "stacks a (certbot distro) and b (certbot auto) share 203.0.113.10, where one certbot renews every "
        "certificate: set the same pactus-secure:certbot in each"
    ]


def test_nodes_of_their_own_do_not_clash():
    other_host = {**MINIMAL, "domain": "node2.example.com", "host": "203.0.113.20", "certbot": "distro"}
    assert (
        clashes(
            {
                "a": settings_of(MINIMAL),
                "b": settings_of(other_host),
                "c": settings_of(IP_ADDRESS_NODE | {"host": "203.0.113.30"}),
            }
        )
        == []
    )


def test_the_cloudflare_token_from_the_environment_is_taken_as_the_program_takes_it(monkeypatch):
    dns = {**MINIMAL, "manageDns": "true", "cloudflareZoneId": "0123456789abcdef0123456789abcdef"}
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    assert "cloudflare:apiToken" in " ".join(read_all({"a": config_values(dns)})[1])
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "a-token-from-the-environment")
    nodes, problems = read_all({"a": config_values(dns)})
    assert problems == [] and nodes["a"].dns_record


def test_a_plain_cloudflare_token_is_refused():
    config = config_values(MINIMAL) | {"cloudflare:apiToken": auto.ConfigValue("a-token", secret=False)}
    (problem,) = read_all({"a": config})[1]
    assert problem.startswith("a: cloudflare:apiToken") and "set in plain text" in problem and "a-token" not in problem


@pytest.mark.parametrize("value", ["[node]\nreward_addresses = []", "{not json"])
def test_an_object_key_that_is_not_json_is_named_not_a_traceback(value):
    config = config_values(MINIMAL) | {"pactus-secure:pactusConfig": auto.ConfigValue(value)}
    (problem,) = read_all({"a": config})[1]
    assert (
        problem.startswith("a: pactus-secure:pactusConfig") and "must be an object of config.toml sections" in problem
    )
