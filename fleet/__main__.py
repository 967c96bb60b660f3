"""`python -m fleet preview|up|refresh|destroy|status|unlock`: one command over a fleet of stacks.

Through the Automation API, in the project folder (`--project`, the repo root by default),
over its stacks (`Pulumi.<stack>.yaml`, filtered by `--stacks` globs, split by `--shard`
over machines). Before anything
runs it checks that no two stacks fight over one server's files and that every stack's
settings pass. Then it runs at most `--parallel` stacks at once, with a live view of which
stack is at which step, and ends with one table (`--json`: the same for scripts). Ctrl-C
starts no new stack and lets the running ones finish their current step.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import traceback
from pathlib import Path

from fleet import checks, locks, monitor, report, run
from fleet.shards import parse_shard

REPO = Path(__file__).resolve().parent.parent
EXIT_CODES = (
    """exit status:
  0  every stack succeeded (unlock: no lock is left)
  1  a stack failed, or did not start (its row says why); unlock: a lock was kept
  2  nothing was run: no stack matched, or a stack's settings or a clash between stacks
     were refused (each problem named)
  3  the fleet command itself failed (its traceback follows)

"""
    + monitor.EXIT_CODES
)


def default_parallel() -> int:
    """One stack per core: a stack's run is CPU-bound (the CLI, the language host and the
    provider; bench/README.md measures a preview's CPU) and waits little on its hosts."""
    return max(1, os.cpu_count() or 1)


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except Exception:  # noqa: BLE001 (the exit status tells a crash from a failed stack)
        traceback.print_exc()
        print("fleet: the fleet command failed (exit 3); no row above is a stack's result", file=sys.stderr)
        return 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fleet",
        description=__doc__.split("\n\n")[0],
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=run.COMMANDS + ("status", "unlock"))
    parser.add_argument("--project", type=Path, default=REPO, help="the project folder (default: the repo root)")
    parser.add_argument("--stacks", nargs="+", default=["*"], metavar="GLOB", help="which stacks (default: all)")
    parser.add_argument(
        "--parallel",
        type=int,
        default=default_parallel(),
        help=f"stacks at once (default: {default_parallel()}, this machine's cores)",
    )
    parser.add_argument(
        "--shard",
        type=parse_shard,
        metavar="K/N",
        help="only the K-th of N parts of the selected stacks, split by name: one part per CI job or machine",
    )
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    monitor.add_arguments(parser)
    parser.add_argument(
        "--holder-gone",
        action="store_true",
        help="unlock: remove another machine's lock too (its run is known to be gone)",
    )
    return parser


def _main(argv: list[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if problem := monitor.threshold_problem(args):
        parser.error(problem)

    fleet = run.Fleet(args.project.resolve())
    stacks = fleet.select(args.stacks)
    if args.shard is not None:
        stacks = args.shard.of(stacks)
    if not stacks:
        shard = f" in shard {args.shard.index}/{args.shard.count}" if args.shard else ""
        print(f"fleet: no stack in {args.project} matches {' '.join(args.stacks)}{shard}", file=sys.stderr)
        return monitor.UNKNOWN if args.command == "status" else 2
    if args.command == "unlock":
        return _unlock(fleet, stacks, holder_gone=args.holder_gone)
    if args.command == "status":
        return monitor.status(fleet, stacks, args)
    try:
        rows = _run(fleet, args, stacks)
    finally:
        fleet.remove_created()
    if rows is None:
        return 2
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        report.print_table(rows, args.command)
    return 1 if any(row["result"] != "succeeded" for row in rows) else 0


def _run(fleet: run.Fleet, args: argparse.Namespace, stacks: list[str]) -> list[dict] | None:
    """The rows of the stacks run, or None when the checks refused to run any."""
    stacks = fleet.prepare(args.command, stacks)
    nodes, problems = checks.read_all({name: fleet.config(name) for name in stacks})
    problems += checks.clashes(nodes)
    if problems:
        print("fleet: nothing was run:\n" + "\n".join(f"  - {run.visible(p)}" for p in problems), file=sys.stderr)
        return None
    stop = run.Stop()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return run.run_all(fleet, args.command, nodes, args.parallel, stop, live=not args.json)


def _unlock(fleet: run.Fleet, stacks: list[str], *, holder_gone: bool) -> int:
    """A dead run's lock removed from each stack, then what it left pending forgotten, so
    that the next `up` runs those steps again (each script is idempotent)."""
    backend = locks.backend_for(fleet.workspace.who_am_i().url)
    whole = True
    for name in stacks:
        unlocked, said = locks.unlock(backend, fleet.project_name(), name, holder_gone=holder_gone)
        print(said)
        whole &= unlocked
        if unlocked and locks.pending_operations(fleet.export(name)):
            fleet.clear_pending(name)
            print(f"{name}: forgot the operations the dead run left pending; `up` runs them again")
    return 0 if whole else 1


if __name__ == "__main__":
    sys.exit(main())
