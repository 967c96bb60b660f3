"""`python -m fleet status`: the check an operator runs from cron, CI or a monitoring system.
Every node is read over its public endpoint (fleet/health.py) and judged; a one-line summary
comes first, then the table (or `--json`), and the exit status is the fleet's state in the
monitoring-plugin convention. `--prometheus FILE` writes the same for node_exporter."""

from __future__ import annotations

import argparse
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fleet import report, textfile
from fleet.checks import read_all
from fleet.health import OK, STATE_NAMES, UNKNOWN, Reading, Target, Thresholds, judge, read, worst
from fleet.run import visible
from render.renewal import renewal_due

EXIT_CODES = """status's exit status, as Nagios, Icinga and Sensu read it:
  0  OK: every node answers on every enabled API, its certificate and chain are in time
  1  WARNING: a renewal overdue, a node behind or slow to make blocks
  2  CRITICAL: a node a client cannot use (TLS, an API), a certificate near its end,
     a node far behind or stalled
  3  UNKNOWN: a stack never deployed or refused, no stack matched, or the command failed
"""
DURATION = re.compile(r"(\d+)([smhd])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def duration(text: str) -> timedelta:
    """argparse's type for a span: 90s, 2m, 24h or 7d."""
    match = DURATION.fullmatch(text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a span such as 90s, 2m, 24h or 7d")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def percent(text: str) -> float:
    if not (text.isascii() and text.isdigit() and 0 < int(text) < 100):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole percentage from 1 to 99")
    return int(text) / 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Thresholds()
    group = parser.add_argument_group("status thresholds")
    group.add_argument(
        "--renewal-grace",
        type=duration,
        default=defaults.renewal_grace,
        help="WARNING once a certificate is this far past its renewal point (default 24h: the renewal timer's "
        "longest gap)",
    )
    group.add_argument(
        "--critical-left",
        type=percent,
        default=defaults.critical_left,
        metavar="PERCENT",
        help="CRITICAL when less than this part of a certificate's lifetime is left (default 10)",
    )
    group.add_argument("--lag-warning", type=int, default=defaults.lag_warning, metavar="BLOCKS", help="default 6")
    group.add_argument("--lag-critical", type=int, default=defaults.lag_critical, metavar="BLOCKS", help="default 60")
    group.add_argument(
        "--stall-warning", type=duration, default=defaults.stall_warning, help="since the last block (default 2m)"
    )
    group.add_argument("--stall-critical", type=duration, default=defaults.stall_critical, help="default 10m")
    group.add_argument(
        "--prometheus", type=Path, metavar="FILE", help="also write the facts for node_exporter's textfile collector"
    )


def threshold_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the thresholds given, in the flags' words; None when they make sense."""
    if min(args.lag_warning, args.lag_critical) < 1:
        return "--lag-warning and --lag-critical count blocks: give each 1 or more"
    if args.lag_critical < args.lag_warning:
        warning = args.lag_warning
        return f"--lag-critical {args.lag_critical} is below --lag-warning {warning}: give it {warning} or more"
    if args.stall_critical < args.stall_warning:
        warning = f"{int(args.stall_warning.total_seconds())}s"
        return f"--stall-critical is shorter than --stall-warning ({warning}): give it {warning} or longer"
    return None


def thresholds_given(args: argparse.Namespace) -> Thresholds:
    """The thresholds the flags give."""
    return Thresholds(**{name: getattr(args, name) for name in Thresholds.__dataclass_fields__})


def status(fleet, stacks: list[str], args: argparse.Namespace) -> int:
    rows = status_rows(fleet, stacks, fleet.existing(), thresholds_given(args), args.parallel)
    state, line = summary(rows)
    if args.prometheus:
        textfile.write(args.prometheus, rows, datetime.now(UTC))
    if args.json:
        print(json.dumps({"state": STATE_NAMES[state], "summary": line, "nodes": rows}, indent=2))
    else:
        print(line)
        report.print_table(rows, "status")
    return state


def status_rows(fleet, names: list[str], existing: set[str], limits: Thresholds, parallel: int) -> list[dict]:
    """Changes nothing: each node read over its public endpoint, then judged beside the others
    (its lag is behind the fleet's highest node)."""
    with ThreadPoolExecutor(max(1, parallel)) as pool:  # each row waits on its endpoint
        found = list(pool.map(lambda name: _read(fleet, name, existing), names))
    heights = [reading.height for _, reading in found if reading is not None and reading.height is not None]
    highest = max(heights, default=None)
    now = datetime.now(UTC)
    return [_judged(row, reading, highest, now, limits) for row, reading in found]


def _read(fleet, name: str, existing: set[str]) -> tuple[dict, Reading | None]:
    if name not in existing:
        return {"stack": name, "result": "no stack: never deployed (python -m fleet up creates it)"}, None
    nodes, problems = read_all({name: fleet.config(name)})
    if problems:
        return {"stack": name, "result": f"refused: {problems[0]}"}, None
    node = nodes[name]
    outputs = {key: value.value for key, value in fleet.stack(name).outputs().items()}
    target = Target(
        node.name,
        node.grpc.enable,
        node.jsonrpc.path if node.jsonrpc.enable else None,
        node.http.base_path if node.http.enable else None,
        node.check_ca_bundle,
    )
    row = {
        "stack": name,
        "host": node.host,
        "endpoint": f"{node.name}:443",
        "certificate expiry": outputs.get("certificateExpiry", "-"),
        "certbot": outputs.get("certbotVersion") or "-",
    }
    return row, read(target)


def _judged(row: dict, reading: Reading | None, highest: int | None, now: datetime, limits: Thresholds) -> dict:
    if reading is None:
        return {**row, "state": STATE_NAMES[UNKNOWN], "findings": row["result"]}
    verdict = judge(reading, highest, now, limits)
    lag = highest - reading.height if reading.height is not None and highest is not None else None
    due = renewal_due(reading.issued, reading.expires) if reading.expires else None
    version = row["certbot"]  # the certbotVersion output, "-" for a stack deployed before it
    ari = certbot_uses_ari(version) if version != "-" else None
    metrics = {  # the same facts as numbers, for scripts and the textfile
        "expires": reading.expires and reading.expires.timestamp(),
        "due": due and due.timestamp(),
        "height": reading.height,
        "lag": lag,
        "last_block": reading.last_block and reading.last_block.timestamp(),
        "ari": ari,
    }
    row = {
        **row,
        "certbot": version if ari is None else f"{version} ({'ARI' if ari else 'no ARI'})",
        "state": STATE_NAMES[verdict.state],
        "result": f"failed: {reading.tls_error}"[:160] if reading.tls_error else "ok",
        "findings": "; ".join(verdict.findings) or "-",
        "apis": ", ".join(f"{api} {answer}" for api, answer in reading.apis.items()) or "-",
        "metrics": metrics,
    }
    if reading.expires is None:
        return row
    return {
        **row,
        "days left (live)": (reading.expires - now).days,
        "renew by": due.isoformat(timespec="seconds"),
        "height": "-" if reading.height is None else reading.height,
        "lag": "-" if lag is None else lag,
        "last block": f"{int((now - reading.last_block).total_seconds())} s ago" if reading.last_block else "-",
    }


def summary(rows: list[dict]) -> tuple[int, str]:
    """The fleet's state, and the one line a monitoring system shows first."""
    state = worst(STATE_NAMES.index(row["state"]) for row in rows)
    counts = {name: sum(row["state"] == name for row in rows) for name in STATE_NAMES}
    told = ", ".join(f"{counts[name]} {name.lower()}" for name in STATE_NAMES[1:] if counts[name])
    first = next((row for row in rows if STATE_NAMES.index(row["state"]) == state and state != OK), None)
    worst_row = f": {first['stack']}: {first['findings']}" if first else ""
    return state, visible(f"FLEET {STATE_NAMES[state]} - {len(rows)} nodes, {told or 'all ok'}{worst_row}")[:300]


def certbot_uses_ari(version: str | None) -> bool:
    """ARI (RFC 9773) came in certbot 4.1; Debian 13's 4.0 and Debian 12's 2.1 do without."""
    try:
        return tuple(int(part) for part in (version or "").split(".")[:2]) >= (4, 1)
    except ValueError:
        return False
