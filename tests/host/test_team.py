"""A fleet a team shares: the state in a real PostgreSQL (testbed/postgres.py, over TLS with
`sslmode=verify-full`, its password in PGPASSWORD alone), runs split over machines with
`--shard` (each machine simulated as a process with a clone and a PULUMI_HOME of its own),
and Pulumi's own locks between runs that touch one stack.

The hundred stacks only preview: their hosts are documentation addresses that no test
dials. The locks are taken by real `up`s of two nodes on this machine (the real-host
suite's sshd, Nginx, pebble and pactus-daemon).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from components import names as n
from fleet import locks
from render.host_layout import HostLayout
from testbed.credentials import SSH_KEY
from testbed.postgres import DATABASE
from testbed.stack import cli_environment, copy_program, pulumi_home, up_killed
from testbed.this_machine import DOMAIN, FAULTS_DOMAIN, beside_the_running_node
from testbed.tools import tool

pytestmark = pytest.mark.host
REPO = Path(__file__).resolve().parents[2]
HUNDRED = [f"team-{i:03d}" for i in range(100)]
FORTY = "team-0[0-3]?"  # the first 40 of them
LOCKED = ("lock-a", "lock-b")


class Team:
    """The project as each runner has it: a clone, a PULUMI_HOME, the shared backend."""

    def __init__(self, work: Path, postgres, name: str = "runner"):
        self.folder = work / name
        copy_program(REPO, self.folder)
        self.environment = {
            **os.environ,
            **cli_environment(pulumi_home(work / f"{name}-home")),
            **postgres.environment,
            "PYTHONPATH": str(REPO),
        }
        self.printed: list[str] = []  # everything the fleet and the CLI said, for the password check

    def clone(self, work: Path, postgres, name: str) -> Team:
        """Another runner, with this one's stack files in its own clone."""
        other = Team(work, postgres, name)
        for path in self.folder.glob("Pulumi.*.yaml"):
            shutil.copy(path, other.folder / path.name)
        return other

    def pulumi(self, *args: str, stdin: str | None = None, timeout: float = 120, **environment: str):
        result = subprocess.run(
            [tool("pulumi"), *args, "--non-interactive"],
            cwd=self.folder,
            env={**self.environment, **environment},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        self.printed += [result.stdout, result.stderr]
        return result

    def fleet(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "fleet", *args, "--json", "--project", str(self.folder)],
            cwd=REPO,
            env=self.environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def rows(self, process: subprocess.Popen) -> dict[str, dict]:
        out, err = process.communicate(timeout=1800)
        self.printed += [out, err]
        assert out.strip(), err[-4000:]
        printed = json.loads(out)
        rows = printed["nodes"] if isinstance(printed, dict) else printed  # status: its state and summary first
        return {row["stack"]: row for row in rows}

    def configure(self, stack: str, config: dict) -> None:
        """`pulumi config set` for each key, objects by path, as an operator does."""
        for key, value in _flat(config).items():
            assert (
                self.pulumi("config", "set", "--path", "--stack", stack, f"pactus-secure:{key}", value).returncode == 0
            )


@pytest.fixture(scope="module")
def team(postgres, tmp_path_factory) -> Team:
    """A hundred stacks in the shared backend: one made with the CLI, its file (salt and
    encrypted SSH key with it) copied to the others with a domain and a host of their own."""
    runner = Team(tmp_path_factory.mktemp("team"), postgres)
    first = HUNDRED[0]
    assert runner.pulumi("stack", "init", first, "--no-select").returncode == 0
    runner.configure(first, {"domain": "team-000.invalid", "host": "203.0.113.1", "acmeEmail": "ops@example.com"})
    runner.configure(first, {"manageDns": "false"})
    assert runner.pulumi("config", "set", "--secret", "--stack", first, "sshPrivateKey", stdin=SSH_KEY).returncode == 0
    template = (runner.folder / f"Pulumi.{first}.yaml").read_text()
    for number, name in enumerate(HUNDRED[1:], start=1):
        text = template.replace("team-000.invalid", f"{name}.invalid").replace(
            "203.0.113.1\n", f"203.0.113.{number + 1}\n"
        )
        (runner.folder / f"Pulumi.{name}.yaml").write_text(text)
    with ThreadPoolExecutor(4) as pool:
        made = list(pool.map(lambda name: runner.pulumi("stack", "init", name, "--no-select"), HUNDRED[1:]))
    assert all(result.returncode == 0 for result in made), [r.stderr for r in made if r.returncode][:3]
    return runner


def test_a_hundred_stacks_list_show_and_preview_whole_on_postgres(team):
    """`stack ls` lists every stack in one query (the DIY backend asks no page size, so
    nothing is cut at a page), and with PULUMI_DIY_BACKEND_PARALLEL=1, which the fleet
    sets, it returns: Pulumi's 10 workers would hold the whole pool and wait."""
    listed = team.pulumi("stack", "ls", "--json", timeout=120, PULUMI_DIY_BACKEND_PARALLEL="1")
    assert listed.returncode == 0, listed.stderr
    assert set(HUNDRED) <= {stack["name"] for stack in json.loads(listed.stdout)}
    status = team.rows(team.fleet("status", "--stacks", "team-*"))
    assert sorted(status) == HUNDRED  # every stack found; none deployed, so no endpoint answers
    assert all(row["result"].startswith("failed: ") and row["host"].startswith("203.0.113.") for row in status.values())
    preview = team.rows(team.fleet("preview", "--stacks", "team-*"))
    assert sorted(preview) == HUNDRED and {row["result"] for row in preview.values()} == {"succeeded"}
    assert all(row["created"] == 11 for row in preview.values())  # the stack, its 4 parts, 5 steps, the check


def test_four_runners_over_forty_stacks_preview_each_once(team, postgres, tmp_path):
    """Four machines, as four processes of their own clones and homes, at once; their wall
    time against one runner's is bench/fleet_scale.py --runners 4's."""
    runners = [team.clone(tmp_path, postgres, f"runner-{k}") for k in range(1, 5)]
    processes = [runner.fleet("preview", "--stacks", FORTY, "--shard", f"{k}/4") for k, runner in enumerate(runners, 1)]
    recaps = [runner.rows(process) for runner, process in zip(runners, processes, strict=True)]
    previewed = [stack for recap in recaps for stack in recap]
    assert sorted(previewed) == HUNDRED[:40]  # all 40, each by one runner alone
    assert all(row["result"] == "succeeded" for recap in recaps for row in recap.values())
    team.printed += [text for runner in runners for text in runner.printed]


@pytest.fixture(scope="module", autouse=True)
def password_for_psql(postgres):
    """This process's own psql calls (the checks, fleet.locks in-process) log in as the fleet does."""
    before = os.environ.get("PGPASSWORD")
    os.environ["PGPASSWORD"] = postgres.password
    yield
    if before is None:
        del os.environ["PGPASSWORD"]
    else:
        os.environ["PGPASSWORD"] = before


@pytest.fixture(scope="module")
def locked(team, machine, tmp_path_factory) -> Team:
    """Two nodes on this machine, both deployed once (lock-a as node.test, lock-b as faults.test)."""
    for stack, domain in zip(LOCKED, (DOMAIN, FAULTS_DOMAIN), strict=True):
        directory = tmp_path_factory.mktemp(stack)
        assert team.pulumi("stack", "init", stack, "--no-select").returncode == 0
        team.configure(stack, beside_the_running_node(machine, domain, directory))
        key = machine.client_key
        assert team.pulumi("config", "set", "--secret", "--stack", stack, "sshPrivateKey", stdin=key).returncode == 0
    rows = team.rows(team.fleet("up", "--stacks", *LOCKED))
    assert {row["result"] for row in rows.values()} == {"succeeded"}, rows
    yield team
    team.rows(team.fleet("destroy", "--stacks", *LOCKED))


def lock_rows(postgres, stack: str) -> int:
    """The stack's lock rows, read apart from fleet.locks: Pulumi keys them under the URL's path."""
    prefix = f"{DATABASE}/{locks.LOCKS}/pactus-secure/{stack}/"
    return int(postgres.psql(f"SELECT count(*) FROM pulumi_state WHERE starts_with(key, '{prefix}')"))


@contextmanager
def held(postgres, stack: str, timeout: float = 120):
    """Waits for a run to take the stack's lock, then keeps it there: the holder (the CLI the
    lock names) is stopped with SIGSTOP until the block ends, as a slow step would keep it."""
    backend = locks.backend_for(postgres.url)
    deadline = time.monotonic() + timeout
    while not (taken := backend.locks(f"{locks.LOCKS}/pactus-secure/{stack}")):
        assert time.monotonic() < deadline, f"no run took {stack}'s lock"
        time.sleep(0.05)
    (lock,) = taken
    os.kill(lock.pid, signal.SIGSTOP)
    try:
        yield lock
    finally:
        os.kill(lock.pid, signal.SIGCONT)


def origins(team: Team, stack: str, origin: str) -> None:
    """A change that reruns the config.toml step alone."""
    assert (
        team.pulumi("config", "set", "--path", "--stack", stack, "pactus-secure:jsonrpc.origins[0]", origin).returncode
        == 0
    )


def test_two_fleet_ups_over_one_stack_take_turns_and_the_other_row_names_the_holder(locked, postgres):
    for stack in LOCKED:
        origins(locked, stack, "https://one.example.com")
    history_before = len(json.loads(locked.pulumi("stack", "history", "--json", "--stack", "lock-b").stdout))
    first = locked.fleet("up", "--stacks", *LOCKED)
    with held(postgres, "lock-b") as lock:
        second = locked.rows(locked.fleet("up", "--stacks", "lock-b"))
    first_rows = locked.rows(first)
    assert {row["result"] for row in first_rows.values()} == {"succeeded"}, first_rows
    refused = second["lock-b"]["result"]
    holder = f"root@{socket.gethostname()} (pid {lock.pid}) at {lock.timestamp[:19]}"
    assert refused.startswith(f"failed: the stack is currently locked by {holder}"), refused
    assert "python -m fleet unlock" in refused  # and the way out
    history = json.loads(locked.pulumi("stack", "history", "--json", "--stack", "lock-b").stdout)
    assert len(history) == history_before + 1  # one up ran on lock-b, the other ran nothing
    for stack in LOCKED:
        exported = locked.pulumi("stack", "export", "--stack", stack)
        assert exported.returncode == 0 and json.loads(exported.stdout)["deployment"]["resources"]
        assert lock_rows(postgres, stack) == 0
    again = locked.rows(locked.fleet("up", "--stacks", *LOCKED))
    assert all((row["created"], row["updated"], row["deleted"]) == (0, 0, 0) for row in again.values()), again


def test_unlock_keeps_a_live_runs_lock(locked, postgres):
    origins(locked, "lock-a", "https://two.example.com")
    running = locked.fleet("up", "--stacks", "lock-a")
    with held(postgres, "lock-a"):
        whole, said = locks.unlock(locks.backend_for(postgres.url), "pactus-secure", "lock-a", holder_gone=True)
        assert not whole and "that run is alive on this machine" in said and lock_rows(postgres, "lock-a") == 1
    assert locked.rows(running)["lock-a"]["result"] == "succeeded"


def test_a_runner_killed_mid_up_leaves_a_lock_the_next_run_names_and_unlock_removes_it(locked, postgres):
    origins(locked, "lock-a", "https://three.example.com")
    printed = up_killed(locked.folder, locked.environment, "lock-a", lambda line: f"{n.CONFIG_TOML} updating" in line)
    assert f"{n.CONFIG_TOML} updating" in printed and lock_rows(postgres, "lock-a") == 1  # the killed run's
    refused = locked.rows(locked.fleet("up", "--stacks", "lock-a"))["lock-a"]["result"]
    assert f"locked by root@{socket.gethostname()} (pid " in refused, refused
    unlock = subprocess.run(
        [sys.executable, "-m", "fleet", "unlock", "--stacks", "lock-a", "--project", str(locked.folder)],
        cwd=REPO,
        env=locked.environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    locked.printed += [unlock.stdout, unlock.stderr]
    assert unlock.returncode == 0 and "lock-a: removed the lock of root@" in unlock.stdout, (
        unlock.stdout + unlock.stderr
    )
    assert lock_rows(postgres, "lock-a") == 0
    rows = locked.rows(locked.fleet("up", "--stacks", "lock-a"))
    assert rows["lock-a"]["result"] == "succeeded", rows
    site = Path(HostLayout(DOMAIN).tls_site)
    assert site.exists() and not list(site.parent.glob(site.name + ".*"))  # whole: nothing staged or kept aside
    assert subprocess.run(["nginx", "-t"], capture_output=True).returncode == 0
    assert locked.rows(locked.fleet("up", "--stacks", "lock-a"))["lock-a"]["updated"] == 0  # converged


def test_the_database_password_is_in_no_output_and_a_bad_one_is_not_shown(team, postgres):
    wrong = "not-the-password-" + postgres.password[:4]
    failed = team.pulumi("stack", "ls", PGPASSWORD=wrong, timeout=60)
    assert failed.returncode != 0 and "password authentication failed" in failed.stderr, failed.stderr
    assert postgres.url in failed.stderr  # the CLI names the backend: its URL holds no password
    for text in team.printed:
        assert postgres.password not in text and wrong not in text


def _flat(config: dict, prefix: str = "") -> dict[str, str]:
    """Nested config as `--path` keys: {"grpc": {"listen": x}} is grpc.listen."""
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        elif isinstance(value, list):
            flat.update({f"{prefix}{key}[{i}]": str(item) for i, item in enumerate(value)})
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat
