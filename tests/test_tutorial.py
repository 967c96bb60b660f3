"""What README says of Pactus's tutorial "Secure Connections", checked on the tutorial's own
blocks: the first version (../shared/seed, the copy this project began from) and the one
Pactus's docs have carried since 2025-05-08 (tests/tutorial/current.case). nginx -t is the
real one; where a block names certbot's files, stand-ins take their place, so that each
check fails for the reason it names and no other."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from testbed.pactus_node import PactusNode
from tests.cases import parse_case
from tests.test_nginx_config import NGINX

ROOT = Path(__file__).resolve().parent.parent
FIRST = (ROOT.parent / "shared" / "seed" / "secure-connections.md").read_text()
CURRENT = parse_case(Path(__file__).parent / "tutorial" / "current.case")
LIVE = "/etc/letsencrypt/live/your-domain.com/"
CERTBOTS_FILES = ("/etc/letsencrypt/options-ssl-nginx.conf", "/etc/letsencrypt/ssl-dhparams.pem")


def nginx_blocks(markdown: str) -> str:
    return "".join(re.findall(r"```nginx[^\n]*\n(.*?)```", markdown, re.S))


def nginx_t(tmp_path: Path, blocks: str, stand_ins: dict[str, Path] | None = None) -> subprocess.CompletedProcess:
    for path, stand_in in (stand_ins or {}).items():
        blocks = blocks.replace(path, str(stand_in))
    (tmp_path / "site.conf").write_text(blocks)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n    access_log off;\n    include {tmp_path}/site.conf;\n}}\n"
    )
    return subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True
    )


@pytest.fixture
def certbots_files(tmp_path, throwaway_certificate) -> dict[str, Path]:
    """What certbot's nginx plugin and its certificate would leave in /etc/letsencrypt."""
    options, dhparams = tmp_path / "options-ssl-nginx.conf", tmp_path / "ssl-dhparams.pem"
    options.write_text("ssl_session_timeout 1440m;\n")
    subprocess.run(["openssl", "dhparam", "-dsaparam", "-out", str(dhparams), "2048"], check=True, capture_output=True)
    certificate, key = throwaway_certificate
    return {
        LIVE + "fullchain.pem": certificate,
        LIVE + "privkey.pem": key,
        CERTBOTS_FILES[0]: options,
        CERTBOTS_FILES[1]: dhparams,
    }


@pytest.mark.parametrize("version, blocks", [("first", nginx_blocks(FIRST)), ("current", CURRENT["nginx"])])
def test_both_versions_name_certbots_files_before_they_exist(tmp_path, version, blocks):
    """On a host where certbot has not run yet, nginx -t fails: the first of them is missing."""
    result = nginx_t(tmp_path, blocks)
    assert result.returncode != 0
    assert re.search(
        r'open\(\) "/etc/letsencrypt/options-ssl-nginx.conf" failed|cannot load certificate', result.stderr
    )


def test_the_first_versions_grpc_pass_fails_nginx_t_and_its_location_matches_no_grpc_call(tmp_path, certbots_files):
    blocks = nginx_blocks(FIRST)
    result = nginx_t(tmp_path, blocks, certbots_files)
    assert result.returncode != 0 and 'invalid host in upstream "127.0.0.1:50051/"' in result.stderr
    assert "location /grpc {" in blocks and not "/pactus.Blockchain/GetBlockchainInfo".startswith("/grpc")


def test_the_current_version_passes_nginx_t_once_certbot_ran_and_opens_everything_to_every_origin(
    tmp_path, certbots_files
):
    blocks = CURRENT["nginx"]
    result = nginx_t(tmp_path, blocks, certbots_files)
    assert result.returncode == 0, result.stderr
    # gRPC under /grpc-web, prefix removed: what Pactus's GUI dials. Nothing refused under it.
    assert "location /grpc-web {" in blocks and "rewrite ^/grpc-web/(.*) /$1 break;" in blocks
    assert "Wallet" not in blocks and "deny" not in blocks
    # CORS for every origin, and the http2 flag that nginx 1.25.1 deprecated for `http2 on;`.
    assert "add_header 'Access-Control-Allow-Origin' '*';" in blocks and "listen 443 ssl http2;" in blocks


def test_the_current_versions_http_origins_is_no_key_of_pactus(tmp_path):
    """The [http] a real node writes has no origins (JSON-RPC's has): Pactus decodes strictly,
    so a config.toml with the tutorial's [http] is set aside."""
    assert "origins" in tomllib.loads(CURRENT["config.toml"])["http"]
    node = tmp_path / "node"
    written = tomllib.loads(PactusNode(node, tmp_path / "node.log").init())
    assert "origins" in written["jsonrpc"] and "origins" not in written["http"] and "base_path" in written["http"]
