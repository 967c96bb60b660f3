"""Previewing a fleet through `python -m fleet`: 1, 10, 50 and 100 stacks, in sequence and
2, 4 and 8 at a time (a preview reaches no host). Reports wall time, peak memory of the
whole process tree, and time per stack, beside the floor: the CPU (user + system, every
process) that one stack's preview takes through the fleet command alone, times the stacks,
divided by the cores. Needs tools/build's binaries; the full run takes about an hour.

With `--runners N` (as root), the state is a shared PostgreSQL instead (testbed/postgres.py,
over TLS, as a team's backend) and the fleet is previewed twice: by one runner alone, then by
N runners at once, each a process with a clone and a PULUMI_HOME of its own taking
`--shard K/N`, as N CI jobs would (here on one machine's cores).

    venv/bin/python -m bench.fleet_scale [--stacks 1 10 50 100] [--parallel 1 2 4 8]
    sudo venv/bin/python -m bench.fleet_scale --runners 4 --stacks 40
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from testbed.credentials import SSH_KEY
from testbed.postgres import start_postgres
from testbed.stack import cli_environment, copy_program, file_backend, pulumi_home
from testbed.tools import TOOLS_BIN

REPO = Path(__file__).resolve().parent.parent


def make_fleet(work: Path, count: int, backend: dict[str, str] | None = None) -> tuple[Path, dict]:
    """A project of `count` stacks; each stack file is a copy of one whose secret is set (one
    passphrase, one salt), with its own domain and address. The state in a folder of the
    project's, or in the backend whose environment is given."""
    project, environment = clone(work / f"fleet-{count}", work / "home", backend)
    if backend is None:
        (project / ".state").mkdir()
        environment["PULUMI_BACKEND_URL"] = file_backend(project / ".state")
    pulumi = str(TOOLS_BIN / "pulumi")
    subprocess.run(
        [pulumi, "stack", "init", "node-0", "--non-interactive"],
        cwd=project,
        env=environment,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [pulumi, "config", "set", "--secret", "sshPrivateKey", "--stack", "node-0", "--non-interactive"],
        cwd=project,
        env=environment,
        input=SSH_KEY,
        text=True,
        check=True,
        capture_output=True,
    )
    template = yaml.safe_load((project / "Pulumi.node-0.yaml").read_text())
    for index in range(count):
        stack = {
            **template,
            "config": {
                **template["config"],
                "pactus-secure:domain": f"node{index}.example.com",
                "pactus-secure:host": f"203.0.113.{index % 250 + 1}",
                "pactus-secure:sshHostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPniercauu1"
                "o3SylZuQW4OiFKeCkGocVgA4o3V9v0ffk",
                "pactus-secure:acmeEmail": "ops@example.com",
                "pactus-secure:manageDns": "false",
            },
        }
        (project / f"Pulumi.node-{index}.yaml").write_text(yaml.safe_dump(stack))
        if index:
            subprocess.run(
                [pulumi, "stack", "init", f"node-{index}", "--non-interactive"],
                cwd=project,
                env=environment,
                check=True,
                capture_output=True,
            )
    return project, environment


def clone(project: Path, home: Path, backend: dict[str, str] | None) -> tuple[Path, dict]:
    """A runner's own copy of the program (made once) and its own PULUMI_HOME, on `backend`
    (the environment that names it) or, without one, on none yet."""
    if not project.exists():
        copy_program(REPO, project)
        (project / "venv").symlink_to(Path(sys.prefix))
    environment = {**os.environ, **cli_environment(pulumi_home(home)), **(backend or {}), "PYTHONPATH": str(REPO)}
    return project, environment


def preview(project: Path, environment: dict, parallel: int, *more: str) -> tuple[float, float, float]:
    """Wall seconds, peak MB of the process tree, CPU seconds of every process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "fleet", "preview", "--json", "--parallel", str(parallel), "--project", str(project)]
        + list(more),
        cwd=REPO,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    peak = [0.0]
    sampler = threading.Thread(target=_sample, args=(process, peak), daemon=True)
    sampler.start()
    if process.wait() != 0:
        raise SystemExit(f"fleet preview failed in {project}")
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, peak[0], cpu


def _sample(process: subprocess.Popen, peak: list[float]) -> None:
    while process.poll() is None:
        total = 0
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and os.getsid(int(proc.name)) == process.pid:
                    total += int((proc / "statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, ValueError):
                continue
        peak[0] = max(peak[0], total / 2**20)
        time.sleep(0.2)


def shared_backend_runs(work: Path, counts: list[int], runners: int, cores: int) -> None:
    """One runner against N runners of `--shard K/N`, on one PostgreSQL of the run's own."""
    database = start_postgres()
    try:
        print(f"# fleet preview on a shared PostgreSQL; {cores} cores; each runner --parallel {cores}")
        print(" ".join(f"{title:>10}" for title in ("stacks", "runners", "wall s", "s/stack")))
        for count in counts:
            project, environment = make_fleet(work / f"postgres-{count}", count, database.environment)
            wall, _, _ = preview(project, environment, cores)
            print(f"{count:>10} {1:>10} {wall:10.1f} {wall / count:10.2f}", flush=True)
            clones = []
            for k in range(1, runners + 1):
                folder, own = clone(
                    work / f"postgres-{count}" / f"runner-{k}", work / f"home-{k}", database.environment
                )
                for stack_file in project.glob("Pulumi.*.yaml"):
                    shutil.copy(stack_file, folder / stack_file.name)
                clones.append((folder, own, k))
            started = time.monotonic()
            with ThreadPoolExecutor(runners) as pool:
                list(pool.map(lambda c: preview(c[0], c[1], cores, "--shard", f"{c[2]}/{runners}"), clones))
            wall = time.monotonic() - started
            print(f"{count:>10} {runners:>10} {wall:10.1f} {wall / count:10.2f}", flush=True)
    finally:
        database.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stacks", type=int, nargs="+", default=[1, 10, 50, 100])
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--runners", type=int, help="N runners of --shard K/N against one shared PostgreSQL")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="pactus-secure-fleet-bench-"))
    try:
        if args.runners:
            shared_backend_runs(work, args.stacks, args.runners, cores)
            return
        fleets = {1: make_fleet(work, 1)}  # the floor's fleet, and the first row's
        _, _, floor_cpu = preview(*fleets[1], 1)
        print(f"# fleet preview; {cores} cores; floor: one stack's preview takes {floor_cpu:.2f} s of CPU")
        print(
            " ".join(
                f"{title:>8}" for title in ("stacks", "parallel", "wall s", "s/stack", "peak MB", "floor s", "x floor")
            )
        )
        for count in args.stacks:
            project, environment = fleets.get(count) or make_fleet(work, count)
            floor = floor_cpu * count / cores
            for parallel in args.parallel:
                wall, peak, _ = preview(project, environment, parallel)
                print(
                    f"{count:>6} {parallel:>8} {wall:8.1f} {wall / count:8.2f} {peak:8.0f} {floor:8.1f} "
                    f"{wall / floor:8.2f}",
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
