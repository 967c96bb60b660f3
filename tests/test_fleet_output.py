"""What the fleet prints is text: a log line or an endpoint's answer is neither rich markup
nor a terminal control; a failed stack's log is printed once; and the exit status tells a
failed stack from a crash of the fleet itself."""

from __future__ import annotations

import io

import pytest
from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult
from rich.console import Console

import fleet.__main__ as fleet_command
from fleet import report, run

HOSTILE = "nginx: [emerg] [grpc] appears twice [/bold] \x1b]0;owned\x07\x1b[2J done"


def printed(write) -> str:
    out = io.StringIO()
    write(Console(file=out, width=400, color_system=None))
    return out.getvalue()


def test_a_log_line_is_printed_as_it_is_with_its_controls_made_visible():
    text = printed(lambda console: run.print_failure(console, "node1", ["line one", HOSTILE]))
    assert "[emerg] [grpc] appears twice [/bold]" in text and "line one\n" in text
    assert "\x1b" not in text and "\x07" not in text and "\\x1b]0;owned\\x07\\x1b[2J done" in text


def test_a_table_cell_is_printed_as_it_is(monkeypatch, capsys):
    monkeypatch.setattr(report, "Console", lambda **_: Console(width=400, color_system=None))
    report.print_table([{"stack": "node1", "result": f"failed: {HOSTILE}"}], "up")
    out = capsys.readouterr().out
    assert "[grpc] appears twice [/bold]" in out.replace("\n", "") and "\x1b" not in out


def test_a_failed_stacks_log_holds_what_the_cli_wrote_once():
    error = auto.CommandError(CommandResult(stdout="Updating (node1)\nthe log", stderr="error: it failed", code=1))
    assert run._stderr(error) == "error: it failed"


def test_help_lists_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        fleet_command.main(["--help"])
    out = capsys.readouterr().out
    for line in (
        "0  every stack succeeded",
        "1  a stack failed",
        "2  nothing was run",
        "3  the fleet command itself failed",
    ):
        assert line in out


def test_a_crash_of_the_fleet_exits_3_not_1(monkeypatch, capsys):
    def broken(project):
        raise RuntimeError("a bug in the fleet")

    monkeypatch.setattr(run, "Fleet", broken)
    assert fleet_command.main(["status"]) == 3
    assert "a bug in the fleet" in capsys.readouterr().err
