"""`fleet status` as a monitor: each finding's state under the default thresholds, the
fleet's state and summary line, and the textfile node_exporter reads."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta

import pytest

import fleet.__main__ as fleet_command
from fleet import monitor, textfile
from fleet.health import CRITICAL, OK, UNKNOWN, WARNING, Reading, Thresholds, judge, worst

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
DEFAULTS = Thresholds()


def reading(*, issued_days_ago: float = 10, lifetime_days: float = 90, height: int = 500, block_age_s: float = 10):
    issued = NOW - timedelta(days=issued_days_ago)
    return Reading(
        issued=issued,
        expires=issued + timedelta(days=lifetime_days),
        apis={"gRPC": "ok", "JSON-RPC": "ok"},
        height=height,
        last_block=NOW - timedelta(seconds=block_age_s) if height else None,
    )


def test_a_healthy_node_is_ok():
    assert judge(reading(), 500, NOW, DEFAULTS).state == OK


@pytest.mark.parametrize(
    "issued_days_ago, lifetime_days, state, finding",
    [
        (59, 90, OK, None),  # due at 60 days: not yet
        (60.5, 90, OK, None),  # past due, within the day the timer may take
        (61.5, 90, WARNING, "renewal overdue since"),
        (81.5, 90, CRITICAL, "certificate ends in 8 days"),  # under a tenth of its lifetime left
        (160 / 24 / 2 + 1.1, 160 / 24, WARNING, "renewal overdue"),  # shortlived: due at half
        (6.1, 160 / 24, CRITICAL, "certificate ends in 13 hours"),
        (91, 90, CRITICAL, "certificate ends in 0 s"),
    ],
)
def test_the_certificate_turns_warning_when_its_renewal_is_overdue_and_critical_near_its_end(
    issued_days_ago, lifetime_days, state, finding
):
    verdict = judge(reading(issued_days_ago=issued_days_ago, lifetime_days=lifetime_days), 500, NOW, DEFAULTS)
    assert verdict.state == state, verdict
    assert (finding is None and verdict.findings == []) or finding in verdict.findings[0]


@pytest.mark.parametrize(
    "height, block_age_s, state, finding",
    [
        (494, 10, OK, None),
        (493, 10, WARNING, "7 blocks behind"),
        (439, 10, CRITICAL, "61 blocks behind"),
        (500, 121, WARNING, "no block for 2 minutes"),
        (500, 601, CRITICAL, "no block for 10 minutes"),
        (0, 0, OK, None),  # no block yet, as the whole fleet: nothing to judge by
    ],
)
def test_a_node_behind_or_stalled_turns_warning_then_critical(height, block_age_s, state, finding):
    highest = 0 if height == 0 else 500  # the fleet's highest node
    verdict = judge(reading(height=height, block_age_s=block_age_s), highest, NOW, DEFAULTS)
    assert verdict.state == state and (finding is None or verdict.findings == [finding]), verdict


def test_an_api_that_fails_is_critical_and_one_asking_for_the_credential_answers():
    failing = reading()
    failing.apis = {"gRPC": "UNAVAILABLE: the Pactus node behind this proxy is unavailable", "HTTP-API": "ok"}
    assert judge(failing, 500, NOW, DEFAULTS).findings == [f"gRPC: {failing.apis['gRPC']}"]
    guarded = reading()
    guarded.apis = {"gRPC": "credential asked"}
    assert judge(guarded, 500, NOW, DEFAULTS).state == OK


def test_no_tls_is_critical_with_what_failed():
    verdict = judge(Reading(tls_error="TLS to node1.example.com:443: connection refused"), None, NOW, DEFAULTS)
    assert (verdict.state, verdict.findings) == (CRITICAL, ["TLS to node1.example.com:443: connection refused"])


def test_critical_comes_before_unknown_before_warning():
    assert worst([OK, WARNING, UNKNOWN]) == UNKNOWN and worst([UNKNOWN, CRITICAL, WARNING]) == CRITICAL
    assert worst([]) == OK


def row(stack: str, state: str, findings: str = "-", **metrics) -> dict:
    return {"stack": stack, "state": state, "findings": findings, "metrics": metrics}


def test_the_summary_line_comes_first_and_names_the_worst_node():
    rows = [
        row("node1", "OK"),
        row("node2", "CRITICAL", "gRPC: UNAVAILABLE"),
        row("node3", "WARNING", "7 blocks behind"),
    ]
    assert monitor.summary(rows) == (
        CRITICAL,
        "FLEET CRITICAL - 3 nodes, 1 warning, 1 critical: node2: gRPC: UNAVAILABLE",
    )
    assert monitor.summary([row("node1", "OK")]) == (OK, "FLEET OK - 1 nodes, all ok")


def test_the_thresholds_are_flags_with_their_defaults():
    parser = argparse.ArgumentParser()
    monitor.add_arguments(parser)
    given = parser.parse_args(["--renewal-grace", "0s", "--critical-left", "25", "--stall-warning", "90s"])
    assert monitor.thresholds_given(given) == Thresholds(
        renewal_grace=timedelta(0), critical_left=0.25, stall_warning=timedelta(seconds=90)
    )
    for flag, value in (("--renewal-grace", "1 day"), ("--critical-left", "0"), ("--critical-left", "10%")):
        with pytest.raises(SystemExit):
            parser.parse_args([flag, value])


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--lag-critical", "3"], "--lag-critical 3 is below --lag-warning 6: give it 6 or more"),
        (["--lag-warning", "0"], "--lag-warning and --lag-critical count blocks: give each 1 or more"),
        (["--stall-critical", "1m"], "--stall-critical is shorter than --stall-warning (120s): give it 120s or longer"),
    ],
)
def test_thresholds_that_make_no_sense_are_refused_before_any_node_is_read(flags, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as refused:
        fleet_command.main(["status", "--project", str(tmp_path / "no-project"), *flags])
    assert refused.value.code == 2
    assert message in capsys.readouterr().err


def test_certbot_4_1_and_later_follow_ari():
    assert [monitor.certbot_uses_ari(v) for v in ("2.1.0", "4.0.0", "4.1.1", "5.8.0", None)] == [
        False,
        False,
        True,
        True,
        False,
    ]


def test_the_textfile_has_one_labelled_series_per_stack_and_escapes_labels():
    rows = [
        row("node1", "OK", expires=1_800_000_000.0, due=1_797_000_000.0, height=500, lag=0, last_block=1.5, ari=True),
        row('odd"\\\nname', "UNKNOWN"),
    ]
    text = textfile.render(rows, NOW)
    assert 'pactus_secure_node_state{stack="node1"} 0\n' in text
    assert 'pactus_secure_node_state{stack="odd\\"\\\\\\nname"} 3\n' in text
    assert 'pactus_secure_certificate_expiry_timestamp_seconds{stack="node1"} 1800000000.0\n' in text
    assert 'pactus_secure_certbot_ari{stack="node1"} 1\n' in text
    assert text.count("pactus_secure_block_lag{") == 1  # no sample for a stack it could not read
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if not line.startswith("#")}
    assert all(re.fullmatch(r"pactus_secure_[a-z_]+", name) for name in names), names


def test_the_textfile_is_replaced_whole(tmp_path):
    path = tmp_path / "pactus.prom"
    path.write_text("the collector's old file\n")
    textfile.write(path, [row("node1", "WARNING")], NOW)
    assert 'pactus_secure_node_state{stack="node1"} 1\n' in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["pactus.prom"] and path.stat().st_mode & 0o777 == 0o644
