"""config.toml: the sections the program manages, and the merge that puts them into the
node's own file on the host. Each case in tests/merge_cases/ is an input file, then the
whole expected output (or the error); every awk a supported host may have runs them."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from render.pactus_config import managed_sections, render_managed_sections
from render.scripts import MERGE_PROGRAM
from testbed.configs import FULL, MINIMAL, WALLET, settings_of
from testbed.credentials import BASIC_AUTH, SECRETS
from tests.cases import parse_case

CASES = Path(__file__).parent / "merge_cases"
# What the cases' expected outputs hold for the managed sections, unless a case says otherwise.
MANAGED = """[grpc]
# managed
enable = true
listen = "127.0.0.1:50051"

[jsonrpc]
# managed
enable = false
listen = "127.0.0.1:8545"

[http]
# managed
enable = false

[html]
# managed
enable = false
"""
# mawk is Debian's awk, gawk RedHat's and Arch's; busybox's is on minimal images.
AWKS = [["mawk"], ["gawk"], ["busybox", "awk"]]  # a missing one fails its tests: tools/setup installs all three


def merge(awk: list[str], managed: str, current: str, tmp_path: Path) -> subprocess.CompletedProcess:
    (tmp_path / "managed.toml").write_text(managed)
    (tmp_path / "current.toml").write_text(current)
    names = " ".join(tomllib.loads(managed))
    return subprocess.run(
        [
            *awk,
            "-v",
            f"managed={names}",
            "-f",
            str(MERGE_PROGRAM),
            str(tmp_path / "managed.toml"),
            str(tmp_path / "current.toml"),
        ],
        capture_output=True,
        text=True,
    )


def test_every_awk_is_installed():
    assert [awk[0] for awk in AWKS if shutil.which(awk[0]) is None] == [], "apt-get install mawk gawk busybox"


@pytest.mark.parametrize("awk", AWKS, ids=lambda awk: awk[0])
@pytest.mark.parametrize("case", sorted(p.name for p in CASES.glob("*.case")))
def test_merge_case(case, awk, tmp_path):
    parts = parse_case(CASES / case)
    managed = parts.get("managed", MANAGED)
    result = merge(awk, managed, parts["input"], tmp_path)
    if "error" in parts:
        assert result.returncode == 3, result
        assert parts["error"].strip() in result.stderr, result.stderr
        return
    assert result.returncode == 0, result.stderr
    assert result.stdout == parts["expected"]
    again = merge(awk, managed, result.stdout, tmp_path)
    assert again.returncode == 0 and again.stdout == result.stdout  # a second run changes nothing


@pytest.mark.parametrize("awk", AWKS, ids=lambda awk: awk[0])
def test_a_node_without_config_toml_gets_the_managed_sections_alone(awk, tmp_path):
    managed = render_managed_sections(settings_of(FULL))
    result = merge(awk, managed, "", tmp_path)
    assert result.returncode == 0 and result.stdout == managed


def test_minimal_settings_manage_the_api_sections_and_html_all_on_loopback():
    assert managed_sections(settings_of(MINIMAL)) == {
        "grpc": {"enable": True, "enable_wallet": False, "listen": "127.0.0.1:50051", "basic_auth": ""},
        "jsonrpc": {"enable": False, "listen": "127.0.0.1:8545", "origins": []},
        "http": {"enable": False, "listen": "127.0.0.1:8080", "base_path": "/http", "enable_cors": False},
        "html": {"enable": False, "listen": "127.0.0.1:8090", "enable_pprof": False},
    }


def test_full_settings_carry_origins_wallet_and_the_operators_sections():
    sections = tomllib.loads(
        render_managed_sections(settings_of(WALLET, secrets={**SECRETS, "basicAuth": BASIC_AUTH}), BASIC_AUTH)
    )
    assert sections["grpc"]["basic_auth"] == BASIC_AUTH
    assert sections["grpc"]["enable_wallet"] is True
    assert sections["jsonrpc"]["origins"] == ["https://wallet.example.com"] and sections["http"]["enable"]
    assert sections["node"] == {"reward_addresses": ["pc1zexampleaddress"]}
    assert list(sections) == ["node", "grpc", "jsonrpc", "http", "html"]


def test_each_managed_section_says_who_manages_it_inside_itself():
    text = render_managed_sections(settings_of(MINIMAL, stack="mainnet-node1"))
    for name in ("grpc", "jsonrpc", "http", "html"):
        assert f"[{name}]\n# managed by pactus-secure (stack mainnet-node1)" in text


def test_nested_operator_tables_are_written_whole():
    sections = tomllib.loads(
        render_managed_sections(
            settings_of(
                {**MINIMAL, "pactusConfig": {"logger": {"levels": {"_sync": "warn"}}, "store": {"retention_days": 10}}}
            )
        )
    )
    assert sections["logger"] == {"levels": {"_sync": "warn"}} and sections["store"] == {"retention_days": 10}


def test_the_metrics_turn_on_the_debug_pages_server_on_loopback_and_nothing_more():
    metrics = {"metrics": {"enable": True, "scrapers": ["198.51.100.0/24"]}}
    html = managed_sections(settings_of({**MINIMAL, **metrics}))["html"]
    assert html == {"enable": True, "listen": "127.0.0.1:8090", "enable_pprof": False}


def test_a_wallet_routed_to_client_networks_is_served_by_the_node_without_a_credential():
    sections = tomllib.loads(render_managed_sections(settings_of({**MINIMAL, "walletNetworks": ["198.51.100.0/24"]})))
    assert sections["grpc"]["enable_wallet"] is True and sections["grpc"]["basic_auth"] == ""
