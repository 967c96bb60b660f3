"""The fleet command over the example fleet's three stacks, on three real servers (Debian
12, 13 and a second 13, booted with systemd): each stack keeps the example's values but
for what the test sets (the server's address, its node's directory and unit, no DNS
record, pebble as the CA, a testnet reward address). The three nodes are one localnet chain
(testbed.localnet), so they make blocks as a live fleet does.

One fleet up is made in setup and the fleet destroyed in teardown. A test that changes it
puts it back as it found it, so the tests hold in any order.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
import yaml
from pactus_grpc import blockchain_pb2, blockchain_pb2_grpc, network_pb2, network_pb2_grpc

from testbed import localnet, pebble, servers
from testbed.stack import cli_environment, copy_program, pulumi_home
from testbed.this_machine import HAND_EDITS_REWARD, challtestsrv
from testbed.tools import tool

pytestmark = pytest.mark.host
REPO = Path(__file__).resolve().parents[2]
SERVERS = {"mainnet-node1": ("bookworm", 41), "mainnet-node2": ("trixie", 42), "testnet-node1": ("trixie", 43)}
PRODUCER = "mainnet-node1"  # the localnet chain's: the others follow it
PEBBLE_CA_ON_SERVER = "/etc/pactus-secure-test/pebble.pem"
REWARD = HAND_EDITS_REWARD[1].split("'")[1]  # a testnet address, which localnet takes too
KNOWN = 3  # Pactus's status of a peer once Hello and HelloAck went both ways (sync/peerset/peer/status)


class Fleet:
    def __init__(
        self, folder: Path, environment: dict, nodes: dict[str, servers.Server], domains: dict[str, str], machine
    ):
        self.folder, self.environment, self.nodes, self.domains = folder, environment, nodes, domains
        self.issuing_root: Path = machine.issuing_root  # what a client trusts the endpoints' certificates by
        self.first_up: dict[str, dict] = {}  # the rows of the fleet up in setup, by both runners
        self.shards: list[set[str]] = []  # the stacks each runner took

    def set_origin(self, origin: str) -> None:
        """Every stack's first JSON-RPC origin: a change that updates config.toml alone."""
        for stack in self.nodes:
            self.set(stack, "pactus-secure:jsonrpc.origins[0]", origin, path=True)

    def stack_files(self) -> dict[Path, str]:
        """The stacks' config files as they are now, for put_back."""
        return {path: path.read_text() for path in self.folder.glob("Pulumi.*.yaml")}

    def put_back(self, files: dict[Path, str]) -> None:
        for path, text in files.items():
            path.write_text(text)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "fleet", *args, "--project", str(self.folder)],
            cwd=REPO,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        assert not check or result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
        return result

    def rows(self, *args: str, check: bool = True) -> dict[str, dict]:
        result = self.run(*args, "--json", check=check)
        return {row["stack"]: row for row in json.loads(result.stdout)}

    def set(self, stack: str, key: str, value: str, *, path: bool = False, secret: bool = False) -> None:
        flags = (["--path"] if path else []) + (["--secret"] if secret else ["--plaintext"])
        subprocess.run(
            [tool("pulumi"), "config", "set", *flags, "--stack", stack, key, "--non-interactive"],
            cwd=self.folder,
            env=self.environment,
            input=value,
            text=True,
            check=True,
            capture_output=True,
        )


def runner(work: Path, name: str, postgres) -> tuple[Path, dict]:
    """One CI runner: a clone of its own, a PULUMI_HOME of its own; only the backend is shared."""
    project = work / name
    copy_program(REPO, project)
    (project / "venv").symlink_to(Path(sys.prefix))
    shutil.copytree(REPO / "examples" / "fleet", project / "examples" / "fleet")
    home = pulumi_home(work / f"{name}-home")
    return project / "examples" / "fleet", {
        **os.environ,
        **cli_environment(home),
        **postgres.environment,
        "PYTHONPATH": str(REPO),
    }


@pytest.fixture(scope="module")
def fleet(machine, postgres, tmp_path_factory):
    """The fleet's state in the shared PostgreSQL backend; the first up by two runners at
    once, `--shard 1/2` and `--shard 2/2`, each from its own clone."""
    work = tmp_path_factory.mktemp("fleet")
    folder, environment = runner(work, "project", postgres)
    other_folder, other_environment = runner(work, "second-runner", postgres)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "deploy_key")], check=True)
    domains = {
        stack: yaml.safe_load((folder / f"Pulumi.{stack}.yaml").read_text())["config"]["pactus-secure:domain"]
        for stack in SERVERS
    }
    hosts_before = Path("/etc/hosts").read_text()
    forwarding = servers.route_to_the_mirror()
    nodes: dict[str, servers.Server] = {}
    try:
        prepare_the_chain(nodes, work, domains, machine)
        with ThreadPoolExecutor(len(nodes)) as pool:
            list(pool.map(lambda node: node.boot(), nodes.values()))
        Path("/etc/hosts").write_text(hosts_before + "".join(f"{nodes[s].address} {domains[s]}\n" for s in SERVERS))
        deployed = Fleet(folder, environment, nodes, domains, machine)
        init_stacks(deployed, work, machine)
        for path in folder.glob("Pulumi.*.yaml"):  # the second runner's clone has the same stack files
            shutil.copy(path, other_folder / path.name)
        second = Fleet(other_folder, other_environment, nodes, domains, machine)
        with ThreadPoolExecutor(2) as pool:
            shards = list(
                pool.map(lambda pair: pair[0].rows("up", "--shard", pair[1]), [(deployed, "1/2"), (second, "2/2")])
            )
        deployed.shards = [set(rows) for rows in shards]
        deployed.first_up = {**shards[0], **shards[1]}
        yield deployed
        deployed.rows("destroy")
    finally:
        Path("/etc/hosts").write_text(hosts_before)
        for node in nodes.values():
            node.stop()
        servers.stop_routing(forwarding)


def prepare_the_chain(nodes: dict[str, servers.Server], work: Path, domains: dict[str, str], machine) -> None:
    """The three servers, their nodes one localnet chain: PRODUCER makes the blocks, the others sync them."""
    for stack, (suite, number) in SERVERS.items():
        address = f"10.77.{number}.2"
        nodes[stack] = servers.prepare(
            f"pst-fleet{number}",
            suite,
            number,
            work,
            (work / "deploy_key.pub").read_text().strip(),
            {
                "/etc/hostname": f"pst-fleet{number}\n",
                "/etc/hosts": f"127.0.0.1 localhost pst-fleet{number}\n{address} {domains[stack]}\n",
                PEBBLE_CA_ON_SERVER: machine.pebble_api_ca.read_text(),
            },
            node_init=localnet.PRODUCER_NODE if stack == PRODUCER else localnet.FOLLOWER_NODE,
        )
        challtestsrv("/add-a", {"host": domains[stack], "addresses": [address]})
    producer = localnet.make_producer(pactus_dir(nodes[PRODUCER]), nodes[PRODUCER].address)
    for stack, node in nodes.items():
        if stack != PRODUCER:
            localnet.make_follower(pactus_dir(node), producer)


def pactus_dir(node: servers.Server) -> Path:
    return node.root / servers.PACTUS_DIR.lstrip("/")


def init_stacks(fleet: Fleet, work: Path, machine) -> None:
    for stack, node in fleet.nodes.items():
        subprocess.run(
            [tool("pulumi"), "stack", "init", stack, "--non-interactive"],
            cwd=fleet.folder,
            env=fleet.environment,
            check=True,
            capture_output=True,
        )
        for key, value in overrides(node, machine).items():
            fleet.set(stack, key, value, path="." in key)
        fleet.set(stack, "sshPrivateKey", (work / "deploy_key").read_text(), secret=True)


def overrides(node: servers.Server, machine) -> dict[str, str]:
    return {
        "pactus-secure:host": node.address,
        "pactus-secure:sshHost": node.address,
        "pactus-secure:allowPrivateHost": "true",
        "pactus-secure:hostIpv6": "",
        "pactus-secure:sshHostKey": (node.root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().strip(),
        "pactus-secure:pactusDir": servers.PACTUS_DIR,
        "pactus-secure:pactusService": "pactus.service",
        "pactus-secure:manageDns": "false",
        "pactus-secure:acmeServer": pebble.Ports().directory(node.gateway),
        "pactus-secure:acmeCaBundle": PEBBLE_CA_ON_SERVER,
        "pactus-secure:checkCaBundle": str(machine.issuing_root),
        "pactus-secure:pactusConfig.node.reward_addresses[0]": REWARD,
    }


def grpc_channel(fleet: Fleet, stack: str) -> grpc.Channel:
    """A channel to the node's public endpoint, as a client dials it."""
    credentials = grpc.ssl_channel_credentials(fleet.issuing_root.read_bytes())
    return grpc.secure_channel(f"{fleet.domains[stack]}:443", credentials)


def grpc_answers(fleet: Fleet, stack: str) -> bool:
    with grpc_channel(fleet, stack) as channel:
        info = blockchain_pb2_grpc.BlockchainStub(channel).GetBlockchainInfo(
            blockchain_pb2.GetBlockchainInfoRequest(), timeout=10
        )
    return info.total_validators > 0


def test_two_runners_deploy_three_servers_at_once_through_the_shared_backend_and_each_answers(fleet):
    one, two = fleet.shards
    assert one and two and not one & two and one | two == set(SERVERS)  # each stack by one runner alone
    rows = fleet.first_up
    assert {stack: row["result"] for stack, row in rows.items()} == dict.fromkeys(SERVERS, "succeeded"), rows
    assert all(row["created"] > 0 and row["endpoint check"] == "passed" for row in rows.values())
    assert all(row["certificate expiry"].startswith("20") for row in rows.values())
    assert all(grpc_answers(fleet, stack) for stack in SERVERS)


def test_a_second_fleet_up_changes_nothing_anywhere(fleet):
    rows = fleet.rows("up")
    assert all((row["created"], row["updated"], row["deleted"]) == (0, 0, 0) for row in rows.values()), rows


def test_an_origins_change_to_every_stack_updates_each_config_toml_and_nothing_else(fleet):
    """One update (config.toml) and the endpoint check's replacement (it runs again after it):
    the fleet's table counts both as updated."""
    before = fleet.stack_files()
    fleet.set_origin("https://explorer.example.com")
    preview = fleet.rows("preview")
    assert all(row["certbot"].startswith("the distribution's") for row in preview.values()), preview
    assert all((row["created"], row["updated"], row["deleted"]) == (0, 2, 0) for row in preview.values()), preview
    rows = fleet.rows("up")
    assert {stack: row["result"] for stack, row in rows.items()} == dict.fromkeys(SERVERS, "succeeded"), rows
    assert all(row["updated"] == 2 for row in rows.values()), rows
    for stack, node in fleet.nodes.items():
        config = node.ssh(f"sudo cat {servers.PACTUS_DIR}/config.toml").stdout
        assert "https://explorer.example.com" in config, stack
    fleet.put_back(before)
    assert all(row["updated"] == 2 for row in fleet.rows("up").values())  # back as it was


def test_status_shows_each_endpoint_and_its_certificate_and_changes_nothing(fleet):
    in_sync(fleet)
    result = fleet.run("status", "--json")
    printed = json.loads(result.stdout)
    rows = {row["stack"]: row for row in printed["nodes"]}
    assert (result.returncode, printed["state"]) == (0, "OK"), printed["summary"]
    assert all(row["result"] == "ok" and 80 <= row["days left (live)"] <= 90 for row in rows.values()), rows
    assert {stack: row["state"] for stack, row in rows.items()} == dict.fromkeys(SERVERS, "OK"), rows
    assert all("gRPC ok" in row["apis"] for row in rows.values()), rows
    heights = {stack: (row["height"], row["lag"], row["findings"]) for stack, row in rows.items()}
    assert all(row["height"] > 0 and row["lag"] <= 1 for row in rows.values()), (
        heights
    )  # a block may land between reads
    assert all("20" <= row["renew by"] < row["certificate expiry"] for row in rows.values()), rows  # ISO 8601
    table = fleet.run("status").stdout
    assert all(stack in table for stack in SERVERS) and "days left" in table


def test_status_is_critical_in_the_row_of_a_node_whose_pactus_service_stopped_and_ok_in_the_others(fleet):
    in_sync(fleet)
    stopped = fleet.nodes["mainnet-node2"]
    stopped.ssh("sudo systemctl stop pactus.service")
    try:
        result = fleet.run("status", "--json", check=False)
    finally:
        stopped.ssh("sudo systemctl start pactus.service")
    printed = json.loads(result.stdout)
    states = {row["stack"]: row["state"] for row in printed["nodes"]}
    assert (result.returncode, states) == (2, {**dict.fromkeys(SERVERS, "OK"), "mainnet-node2": "CRITICAL"}), printed
    assert printed["summary"].startswith("FLEET CRITICAL - 3 nodes, 1 critical: mainnet-node2: gRPC: UNAVAILABLE")
    in_sync(fleet)  # back as it was: the node has caught up with the chain


@contextmanager
def cut_off_from_the_producer(fleet: Fleet, stack: str):
    """No connection between the node and the producer, either way: this machine routes between
    the servers, and these rules come first in its FORWARD chain. A TCP packet is answered with
    a reset, so each end drops the connection at its next packet and keeps its record of the
    other; once the link is back the follower redials at its next connectivity check, and the
    two shake hands again. A silent drop lets one end hold a dead connection while the other
    redials, and Pactus 1.16, one record per peer, takes the new Hello for a stray one
    (sync/handler_hello.go)."""
    pair = (fleet.nodes[stack].address, fleet.nodes[PRODUCER].address)
    rules = [
        ["FORWARD", "-s", source, "-d", destination, *verdict]
        for source, destination in (pair, pair[::-1])
        for verdict in (["-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"], ["-j", "DROP"])
    ]
    inserted = []
    try:
        for rule in reversed(rules):
            subprocess.run(["iptables", "-I", rule[0], "1", *rule[1:]], check=True)
            inserted.append(rule)
        yield
    finally:
        for rule in inserted:  # a rule that failed to go in is not taken out
            subprocess.run(["iptables", "-D", *rule], check=True)


def in_sync(fleet: Fleet) -> None:
    """Every node OK, at most a block behind, and each follower and the producer known to each
    other. An `up` that changed config.toml restarts each node, and a follower whose producer
    restarted, or whose link came back, dials it again at Pactus's next connectivity check, a
    minute later.

    A follower that restarted can also stay a stranger to the producer for good: Pactus 1.16
    dials its peers as it starts, before it listens to its connections' events (network/
    network.go, Start: peerMgr.Start comes before Notify), so a connection made in that gap is
    never handshaked. Its journal shows no "connected to peer" for it and "unable to open a new
    session" every 10 s. (A restarted node that connects later can miss its Hello too: see the
    held-behind test.) Such a follower still takes the producer's gossiped blocks one by one and
    looks in sync, until it misses one: it cannot download it, and stays behind. Restarting it
    only rolls the dice again. The producer is restarted instead, at most twice: that closes the
    dead connection, and the follower, running, redials at its next check with its events
    watched. The producer dials no one as it starts."""
    for restarts_left in (2, 1, 0):
        code, rows = status_when(fleet, lambda rows: all_caught_up(rows) and not strangers(fleet), timeout=90)
        unready = [stack for stack, row in rows.items() if not caught_up(row)] or strangers(fleet)
        if not unready or not restarts_left:
            break
        fleet.nodes[PRODUCER].ssh("sudo systemctl restart pactus.service")
    assert code == 0 and not unready, (findings(rows), unready, chain_log(fleet, [PRODUCER, *unready]))


def strangers(fleet: Fleet) -> list[str]:
    """The followers that are not known to the producer, or to which it is not known, by each
    one's list of peers (through its public endpoint); one that does not answer is among them."""
    ids, known = {}, {}
    for stack in SERVERS:
        try:
            with grpc_channel(fleet, stack) as channel:
                network = network_pb2_grpc.NetworkStub(channel)
                own_id = network.GetNodeInfo(network_pb2.GetNodeInfoRequest(), timeout=10).peer_id
                peers = network.ListPeers(network_pb2.ListPeersRequest(), timeout=10).peers
        except grpc.RpcError:
            continue
        ids[stack], known[stack] = own_id, {peer.peer_id for peer in peers if peer.status == KNOWN}
    if PRODUCER not in ids:
        return [stack for stack in SERVERS if stack != PRODUCER]
    return [
        stack
        for stack in SERVERS
        if stack != PRODUCER
        and (stack not in ids or ids[PRODUCER] not in known[stack] or ids[stack] not in known[PRODUCER])
    ]


def all_caught_up(rows: dict[str, dict]) -> bool:
    return all(row["state"] == "OK" and caught_up(row) for row in rows.values())


def chain_log(fleet: Fleet, stacks: list[str]) -> dict[str, str]:
    """What each node's network and sync last logged (localnet sets them to info): why a node
    did not catch up, in a failed assertion's message."""
    wanted = "connected|disconnected|hello|session|banned|reject|failed"
    command = f"sudo journalctl -u pactus.service --no-pager -n 400 | grep -iE '{wanted}' | tail -n 15"
    return {stack: fleet.nodes[stack].ssh(command, check=False).stdout for stack in dict.fromkeys(stacks)}


def caught_up(row: dict) -> bool:
    return isinstance(row.get("lag"), int) and row["lag"] <= 1


def findings(rows: dict[str, dict]) -> dict[str, tuple]:
    """Each node's state, height, lag and what made its state, for an assertion's message."""
    return {stack: (row["state"], row.get("height"), row.get("lag"), row["findings"]) for stack, row in rows.items()}


def status_when(fleet: Fleet, ready, *args: str, timeout: float = 180) -> tuple[int, dict[str, dict]]:
    """`fleet status --json` with `args`, run again until ready(rows) holds (a node just started
    takes seconds to answer, a node let go takes seconds to catch up); its exit code and rows."""
    deadline = time.monotonic() + timeout
    while True:
        result = fleet.run("status", "--json", *args, check=False)
        rows = {row["stack"]: row for row in json.loads(result.stdout)["nodes"]}
        if ready(rows) or time.monotonic() > deadline:
            return result.returncode, rows
        time.sleep(3)


def catches_up_by_itself(fleet: Fleet, stack: str) -> None:
    """The node cut off, its link back, is OK again with no restart (within three minutes: it
    redials at its next connectivity check)."""
    code, rows = status_when(fleet, lambda rows: caught_up(rows[stack]))
    assert (code, rows[stack]["state"]) == (0, "OK"), (rows[stack], chain_log(fleet, [PRODUCER, stack]))


def test_a_node_held_behind_shows_its_lag_and_is_ok_again_once_it_has_caught_up(fleet):
    """Cut off while it runs, and never restarted. A restarted node makes its peer records anew,
    and a journal here showed one that connected to the producer, took its gossiped blocks, and
    never sent Hello: Pactus 1.16 sends it once, when the peer's protocols arrive, and only if
    it already knows it dialled that peer (sync/sync.go, processProtocolsEvent)."""
    in_sync(fleet)
    with cut_off_from_the_producer(fleet, "testnet-node1"):
        time.sleep(45)  # the producer makes four blocks or more, one about every 10 s
        code, rows = status_when(fleet, lambda rows: (rows["testnet-node1"].get("lag") or 0) >= 4, "--lag-warning", "3")
    assert rows["testnet-node1"]["lag"] >= 4, rows["testnet-node1"]
    assert (code, rows["testnet-node1"]["state"]) == (1, "WARNING"), rows["testnet-node1"]
    assert rows["testnet-node1"]["findings"].endswith("blocks behind"), rows["testnet-node1"]
    assert rows["mainnet-node1"]["state"] == rows["mainnet-node2"]["state"] == "OK", findings(rows)
    catches_up_by_itself(fleet, "testnet-node1")


def test_a_node_cut_off_from_its_chain_is_stalled_warning_then_critical_by_the_thresholds(fleet):
    """The node answers all along; only its last block grows old (the lag is left out of it by
    its flags, as high as can be). Once the link is back it catches up by itself, as the node
    held behind does."""
    thresholds = ("--lag-warning", "100000", "--lag-critical", "100000", "--stall-warning", "30s")
    in_sync(fleet)
    with cut_off_from_the_producer(fleet, "testnet-node1"):
        time.sleep(50)  # its last block is 40 s old or more
        warning = fleet.run("status", "--json", *thresholds, "--stall-critical", "10m", check=False)
        critical = fleet.run("status", "--json", *thresholds, "--stall-critical", "35s", check=False)
    for result, state in ((warning, "WARNING"), (critical, "CRITICAL")):
        rows = {row["stack"]: row for row in json.loads(result.stdout)["nodes"]}
        assert rows["testnet-node1"]["state"] == state, rows["testnet-node1"]
        assert rows["testnet-node1"]["findings"].startswith("no block for "), rows["testnet-node1"]
        assert rows["mainnet-node1"]["state"] == rows["mainnet-node2"]["state"] == "OK", findings(rows)
        assert result.returncode == ("OK", "WARNING", "CRITICAL").index(state), result.stdout[-2000:]
    catches_up_by_itself(fleet, "testnet-node1")


def test_an_unreachable_server_fails_its_own_stack_with_the_reason_and_the_others_succeed(fleet):
    down = fleet.nodes["mainnet-node2"]
    down.stop()
    try:
        rows = fleet.rows("up", check=False)
    finally:
        down.boot()
    assert (
        rows["mainnet-node2"]["result"].startswith("failed: ")
        and "node2.mainnet.example.com" in rows["mainnet-node2"]["result"]
    ), rows["mainnet-node2"]
    assert rows["mainnet-node1"]["result"] == rows["testnet-node1"]["result"] == "succeeded"


def test_a_bad_value_in_one_stack_stops_the_fleet_before_any_host_is_touched(fleet):
    sessions = {
        stack: node.ssh("sudo journalctl -u ssh --no-pager | grep -c 'Accepted publickey'", check=False).stdout
        for stack, node in fleet.nodes.items()
    }
    before = fleet.stack_files()
    fleet.set("testnet-node1", "pactus-secure:sshPort", "²")
    try:
        result = fleet.run("up", check=False)
    finally:
        fleet.put_back(before)
    assert result.returncode == 2 and "nothing was run" in result.stderr
    assert "testnet-node1: pactus-secure:sshPort" in result.stderr
    after = {
        stack: node.ssh("sudo journalctl -u ssh --no-pager | grep -c 'Accepted publickey'", check=False).stdout
        for stack, node in fleet.nodes.items()
    }
    assert {stack: int(count) - 1 for stack, count in after.items()} == {s: int(c) for s, c in sessions.items()}


def test_ctrl_c_starts_no_new_stack_and_lets_the_running_one_finish_its_step(fleet):
    before = fleet.stack_files()
    fleet.set_origin("https://explorer.example.com")  # a change, so that each stack has a step to run
    process = subprocess.Popen(
        [sys.executable, "-m", "fleet", "up", "--parallel", "1", "--json", "--project", str(fleet.folder)],
        cwd=REPO,
        env=fleet.environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    time.sleep(4)  # the first stack is running
    os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C in a terminal: the whole foreground group
    stdout, stderr = process.communicate(timeout=600)
    rows = {row["stack"]: row for row in json.loads(stdout)}
    assert process.returncode == 1, stderr[-3000:]
    stopped = [stack for stack, row in rows.items() if row["result"] == "not started (stopped)"]
    assert len(stopped) >= 1 and len(stopped) < len(SERVERS), rows
    for stack in SERVERS:  # no stack is left with an operation in flight
        state = subprocess.run(
            [tool("pulumi"), "stack", "export", "--stack", stack, "--non-interactive"],
            cwd=fleet.folder,
            env=fleet.environment,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert not json.loads(state)["deployment"].get("pending_operations"), stack
    assert all(row["result"] == "succeeded" for row in fleet.rows("up").values())  # and the next run converges
    fleet.put_back(before)
    assert all(row["result"] == "succeeded" for row in fleet.rows("up").values())  # back as it was


def test_fleet_destroy_cleans_all_three(fleet):
    rows = fleet.rows("destroy")
    assert all(row["result"] == "succeeded" for row in rows.values()), rows
    for stack, node in fleet.nodes.items():
        assert (
            node.ssh(f"ls /etc/nginx/conf.d/pactus-secure-{fleet.domains[stack]}-* 2>/dev/null", check=False).stdout
            == ""
        )
    assert all(row["result"] == "succeeded" for row in fleet.rows("up").values())  # back as it was
