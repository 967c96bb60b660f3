"""`fleet status --prometheus FILE`: the same facts for node_exporter's textfile collector,
one labelled series per stack, written whole or not at all (a temporary file beside it,
renamed over it), as the collector may read the file at any moment."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from fleet.health import STATE_NAMES

PREFIX = "pactus_secure_"
# name, type, help, and how a row gives the value (None: no sample for that stack)
SERIES = (
    ("node_state", "gauge", "the node's state: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN", "state"),
    ("certificate_expiry_timestamp_seconds", "gauge", "when the served certificate ends", "expires"),
    ("certificate_renewal_due_timestamp_seconds", "gauge", "when certbot renews the served certificate", "due"),
    ("block_height", "gauge", "the node's last block", "height"),
    ("block_lag", "gauge", "blocks behind the fleet's highest node", "lag"),
    ("last_block_timestamp_seconds", "gauge", "when the node's last block was made", "last_block"),
    ("certbot_ari", "gauge", "1 when the host's certbot renews as the CA's ARI says (certbot 4.1+)", "ari"),
)


def write(path: Path, rows: list[dict], now: datetime) -> None:
    text = render(rows, now)
    descriptor, staged = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w") as staged_file:
            staged_file.write(text)
        os.chmod(staged, 0o644)  # node_exporter reads it as its own user
        os.replace(staged, path)
    except BaseException:
        Path(staged).unlink(missing_ok=True)
        raise


def render(rows: list[dict], now: datetime) -> str:
    lines = []
    for name, kind, help_text, key in SERIES:
        lines += [f"# HELP {PREFIX}{name} {help_text}", f"# TYPE {PREFIX}{name} {kind}"]
        for row in rows:
            value = _value(row, key)
            if value is not None:
                lines.append(f'{PREFIX}{name}{{stack="{_label(row["stack"])}"}} {value}')
    lines += [
        f"# HELP {PREFIX}status_timestamp_seconds when fleet status read the nodes",
        f"# TYPE {PREFIX}status_timestamp_seconds gauge",
        f"{PREFIX}status_timestamp_seconds {now.timestamp():.3f}",
    ]
    return "\n".join(lines) + "\n"


def _value(row: dict, key: str) -> float | int | None:
    if key == "state":
        return STATE_NAMES.index(row["state"])
    value = row.get("metrics", {}).get(key)
    return int(value) if isinstance(value, bool) else value


def _label(value: str) -> str:
    """Prometheus's text format escapes backslash, double quote and newline in a label value."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
