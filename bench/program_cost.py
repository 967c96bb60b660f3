"""What evaluating the program costs under Pulumi mocks, against the floor of importing Pulumi.

Each measurement runs in a fresh Python process (imports are cached per process):
- floor: importing pulumi, pulumi_cloudflare and pulumi_command;
- N nodes: the same imports, the program's own (its modules, jinja2, tomlkit; and the
  mocks), then the program evaluated for N node configurations one after another in that
  process, as N stacks would be.
Wall time and peak memory (max RSS) are medians of --runs runs. "per node" is the
evaluation alone divided by N: it should stay flat as N grows.

    venv/bin/python -m bench.program_cost [--runs 5] [--nodes 1 10 100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MEASURE = r"""
import json, resource, sys, time
start = time.perf_counter()
import pulumi, pulumi_cloudflare, pulumi_command
imported = time.perf_counter()
nodes = int(sys.argv[1])
ready = imported
if nodes:
    import program
    from testbed.configs import FULL
    from testbed.pulumi_mocks import deploy
    ready = time.perf_counter()
    for i in range(nodes):
        deploy({**FULL, "domain": f"node{i}.example.com", "host": f"203.0.113.{i % 250 + 1}"}, stack=f"node{i}")
done = time.perf_counter()
print(json.dumps({"total_s": done - start, "program_import_s": ready - imported, "evaluate_s": done - ready,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(nodes: int) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(nodes)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def median_of(runs: int, nodes: int) -> dict:
    samples = [measure(nodes) for _ in range(runs)]
    return {key: statistics.median(s[key] for s in samples) for key in samples[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 10, 100])
    args = parser.parse_args()

    print(
        f"# program cost under mocks: {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; medians of {args.runs} fresh processes"
    )
    floor = median_of(args.runs, 0)
    print(
        f"{'nodes':>6} {'wall s':>7} {'above floor s':>14} {'program import s':>17} {'per node ms':>12} "
        f"{'max RSS MB':>11} {'above floor MB':>15}"
    )
    print(f"{'floor':>6} {floor['total_s']:7.2f} {'':>14} {'':>17} {'':>12} {floor['max_rss_mb']:11.0f}")
    for nodes in args.nodes:
        row = median_of(args.runs, nodes)
        print(
            f"{nodes:>6} {row['total_s']:7.2f} {row['total_s'] - floor['total_s']:14.2f} "
            f"{row['program_import_s']:17.2f} {row['evaluate_s'] / nodes * 1000:12.1f} "
            f"{row['max_rss_mb']:11.0f} {row['max_rss_mb'] - floor['max_rss_mb']:15.0f}"
        )


if __name__ == "__main__":
    main()
