"""config.toml for Pactus v1.8+: exactly the intended keys, APIs on loopback."""

import tomllib

from render.pactus_config import render_pactus_config
from tests.pulumi_mocks import FULL, MINIMAL, settings_of


def rendered(raw):
    return tomllib.loads(render_pactus_config(settings_of(raw)))


def test_minimal_config_holds_the_three_api_sections_and_nothing_else():
    assert rendered(MINIMAL) == {
        "grpc": {"enable": True, "enable_wallet": False, "listen": "127.0.0.1:50051"},
        "jsonrpc": {"enable": False, "listen": "127.0.0.1:8545", "origins": []},
        "http": {"enable": False, "listen": "127.0.0.1:8080", "base_path": "/http", "enable_cors": False},
    }


def test_full_config_carries_origins_wallet_and_the_operators_sections():
    config = rendered(FULL)
    assert config["grpc"] == {"enable": True, "enable_wallet": True, "listen": "127.0.0.1:50051"}
    assert config["jsonrpc"]["origins"] == ["https://wallet.example.com"] and config["jsonrpc"]["enable"]
    assert config["http"]["enable"] is True
    assert config["node"] == {"reward_addresses": ["pc1zexampleaddress"]}
    assert set(config) == {"node", "grpc", "jsonrpc", "http"}


def test_no_key_of_the_tutorial_that_pactus_would_drop():
    text = render_pactus_config(settings_of(FULL))
    assert "gateway" not in text
    assert set(rendered(FULL)["grpc"]) <= {"enable", "enable_wallet", "listen", "basic_auth"}


def test_every_listen_address_is_loopback():
    config = rendered({**FULL, "http": {"enable": True, "listen": "[::1]:8080"}})
    listens = [config[section]["listen"] for section in ("grpc", "jsonrpc", "http")]
    assert listens == ["127.0.0.1:50051", "127.0.0.1:8545", "[::1]:8080"]


def test_nested_operator_tables_survive():
    config = rendered({**MINIMAL, "pactusConfig": {"logger": {"levels": {"sync": "warn"}}, "store": {"retention_days": 10}}})
    assert config["logger"] == {"levels": {"sync": "warn"}} and config["store"] == {"retention_days": 10}


def test_the_file_says_who_manages_it():
    text = render_pactus_config(settings_of(MINIMAL, stack="mainnet-node1"))
    assert text.startswith("# Managed by pactus-secure (stack mainnet-node1)")
