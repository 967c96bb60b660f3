"""The node's Prometheus metrics through Nginx, scraped by a real Prometheus (Debian's
`prometheus`, run here as a process of the test's own, in its pytest folder, and stopped).

The node is a second pactus-daemon of its own directory and ports, deployed by the real
engine with `metrics.enable` (which turns its debug pages server on, on loopback) and
`pactusConfig.network.enable_metrics` (Pactus's network counters). The metrics are gated
by one scraper address (127.0.0.1), then also by the basicAuth credential (the last test).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from settings.constants import METRICS_PATH
from testbed.credentials import BASIC_AUTH
from testbed.pactus_node import PactusNode
from testbed.processes import terminate
from testbed.stack import Stack, StackFailed
from testbed.this_machine import (
    METRICS_DOMAIN,
    forget_certificate,
    free_port,
    node_stack,
    this_host_as_the_node,
    trusted,
)

pytestmark = pytest.mark.host
USER, PASSWORD = "operator", "correct horse battery staple"  # BASIC_AUTH's, hashed once in testbed/credentials.py
NETWORK_COUNTER = "libp2p_rcmgr_"  # Pactus registers libp2p's counters with network.enable_metrics


@dataclass
class Metered:
    node: PactusNode
    stack: Stack
    config: dict


@pytest.fixture(scope="module")
def metered(project, machine, tmp_path_factory):
    """The second node deployed with its metrics on: the first `up` writes a config.toml for a
    node that does not run yet, so its endpoint check fails until the node starts."""
    work = tmp_path_factory.mktemp("metered")
    node = PactusNode(work / "node", work / "node.log")
    node.init()
    config = this_host_as_the_node(
        machine,
        METRICS_DOMAIN,
        node.working_dir,
        grpc={"listen": f"127.0.0.1:{free_port()}"},
        html={"listen": f"127.0.0.1:{free_port()}"},
        metrics={"enable": True, "scrapers": ["127.0.0.1/32"]},
        pactusConfig={"network": {"enable_metrics": True, "listen_addrs": [f"/ip4/127.0.0.1/tcp/{free_port()}"]}},
    )
    stack = node_stack(project, "metered", config, machine)
    try:
        with pytest.raises(StackFailed, match="nobody restarted the node"):
            stack.up()  # its endpoint check finds no node yet
        node.start()  # it reads config.toml at start, as the up wrote it
        stack.up()
        yield Metered(node, stack, config)
    finally:
        stack.destroy()
        node.stop()
        forget_certificate(METRICS_DOMAIN)  # left by destroy, as every certificate; with its site gone it cannot renew


@pytest.fixture(scope="module")
def scrape(metered, machine):
    """A request to the node's name on this machine, from `source`, trusting pebble's root."""

    def request(path: str = METRICS_PATH, *, method: str = "GET", credential: bool = False, source: str = "127.0.0.1"):
        transport = httpx.HTTPTransport(local_address=source, verify=trusted(machine))
        with httpx.Client(transport=transport, timeout=10) as client:
            auth = (USER, PASSWORD) if credential else None
            return client.request(method, f"https://{METRICS_DOMAIN}{path}", auth=auth)

    return request


def test_the_scraper_reads_the_nodes_metrics_with_its_network_counters(scrape):
    answer = scrape()
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain"), answer.text[:300]
    assert "\ngo_goroutines " in answer.text and NETWORK_COUNTER in answer.text


def test_from_another_address_403(scrape):
    assert scrape(source="127.0.0.2").status_code == 403  # not a scraper


# The debug server's pages (those it serves on loopback first), and paths around the metrics.
ON_LOOPBACK = ["/", "/node", "/network/peers", "/blockchain/"]


@pytest.mark.parametrize("path", [*ON_LOOPBACK, "/debug/pprof/", f"{METRICS_PATH}/x", "/metrics", "/metrics/"])
def test_no_other_page_of_the_debug_server_is_reachable(scrape, metered, path):
    assert scrape(path).status_code == 404
    if path in ON_LOOPBACK:  # there, on loopback alone
        with urllib.request.urlopen(f"http://{metered.node.config()['html']['listen']}{path}", timeout=5) as direct:
            assert direct.status == 200


def test_only_get_reaches_the_metrics(scrape):
    assert scrape(method="POST").status_code == 403


def test_the_rate_limit_does_not_starve_a_scrape(scrape):
    """Every API allows 10 requests a second and a burst of 20: sixty scrapes, eight at a time
    (well under a second here), would meet 429 within the limit; outside it each gets 200."""
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda _: scrape().status_code, range(60))) == {200}


@pytest.fixture(scope="module")
def node_exporter(tmp_path_factory):
    """Debian's node_exporter with its textfile collector alone, on a folder fleet status writes to."""
    work = tmp_path_factory.mktemp("node-exporter")
    (work / "textfiles").mkdir()
    port = free_port()
    process = subprocess.Popen(
        [
            shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter",
            "--collector.disable-defaults",
            "--collector.textfile",
            f"--collector.textfile.directory={work / 'textfiles'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=(work / "node-exporter.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        yield work / "textfiles", f"127.0.0.1:{port}"
    finally:
        terminate(process, timeout=20)


@pytest.fixture(scope="module")
def prometheus(metered, machine, node_exporter, tmp_path_factory):
    """Debian's Prometheus scraping the node every second, through Nginx, as an operator's would,
    and node_exporter's textfile."""
    work = tmp_path_factory.mktemp("prometheus")
    scrape_config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [
            {
                "job_name": "pactus",
                "scheme": "https",
                "metrics_path": METRICS_PATH,
                "tls_config": {"ca_file": str(machine.issuing_root)},
                "static_configs": [{"targets": [f"{METRICS_DOMAIN}:443"]}],
            },
            {"job_name": "node", "static_configs": [{"targets": [node_exporter[1]]}]},
        ],
    }
    (work / "prometheus.yml").write_text(json.dumps(scrape_config))  # JSON is YAML
    port = free_port()
    process = subprocess.Popen(
        [
            shutil.which("prometheus") or "/usr/bin/prometheus",
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=(work / "prometheus.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        yield lambda query: _query(port, query, work / "prometheus.log")
    finally:
        terminate(process, timeout=20)


def _query(port: int, query: str, log: Path, timeout: float = 60) -> float:
    """The first sample of an instant query, waited for until Prometheus has one."""
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                result = json.load(response)["data"]["result"]
            if result:
                return float(result[0]["value"][1])
        except OSError:
            pass  # Prometheus still starting
        time.sleep(0.5)
    raise AssertionError(f"Prometheus has no sample for {query}: {log.read_text()[-2000:]}")


def test_prometheus_scrapes_the_node_through_nginx(prometheus):
    assert prometheus('up{job="pactus"}') == 1
    assert prometheus(f'count({{job="pactus", __name__=~"{NETWORK_COUNTER}.+"}})') > 0
    assert prometheus('go_goroutines{job="pactus"}') > 0


def test_fleet_status_says_ok_for_a_node_that_answers_and_critical_for_one_stopped(project, metered):
    code, printed = project.fleet_status("metered")
    (row,) = printed["nodes"]
    assert (code, printed["state"], row["state"]) == (0, "OK", "OK"), printed
    assert printed["summary"] == "FLEET OK - 1 nodes, all ok" and row["apis"] == "gRPC ok"
    assert row["height"] == 0 and row["certbot"].endswith("ARI)")  # the certbot the certificate step ran
    metered.node.stop()
    try:
        code, printed = project.fleet_status("metered")
    finally:
        metered.node.start()
    (row,) = printed["nodes"]
    assert (code, printed["state"]) == (2, "CRITICAL") and row["findings"].startswith("gRPC: UNAVAILABLE"), printed
    assert printed["summary"].startswith("FLEET CRITICAL - 1 nodes, 1 critical: metered: gRPC: UNAVAILABLE")


def test_the_textfile_reaches_prometheus_through_node_exporter(project, metered, node_exporter, prometheus):
    folder, _ = node_exporter
    code, printed = project.fleet_status("metered", "--prometheus", str(folder / "pactus.prom"))
    assert code == 0, printed
    expires = printed["nodes"][0]["metrics"]["expires"]
    assert prometheus('pactus_secure_certificate_expiry_timestamp_seconds{stack="metered"}') == expires
    assert prometheus('pactus_secure_node_state{stack="metered", job="node"}') == 0


def test_with_basic_auth_a_scraper_needs_the_credential_too(machine, metered, scrape):
    """Last: the stack then keeps the credential. Prometheus sends it as `basic_auth`."""
    node_stack(metered.stack.project, "metered", metered.config, machine, basic_auth=BASIC_AUTH).up()
    assert scrape().status_code == 401
    assert scrape(credential=True).status_code == 200
    assert scrape(credential=True, source="127.0.0.2").status_code == 403  # and from a scraper's address alone
