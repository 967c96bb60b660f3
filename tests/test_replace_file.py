"""replace_file, the one routine every step changes a file with: stage it, swap it in whole,
check, put the previous file back on failure, then undo; twice changes nothing."""

import grp
import subprocess
from pathlib import Path

import pytest

from render.templating import render


def replace_file(
    tmp_path: Path, produce: str, mode: str = "0644", owner: str = "root:root", check: str = "", undo: str = ""
) -> subprocess.CompletedProcess:
    """Runs the scripts' replace_file on site.conf in tmp_path; PRODUCE, CHECK and UNDO are shell bodies."""
    library = render("scripts/lib/common.sh.j2") + render("scripts/lib/replace_file.sh.j2")
    functions = f"produce() {{ {produce}; }}\ncheck() {{ {check or ':'}; }}\nundo() {{ {undo or ':'}; }}\n"
    call = f"replace_file site.conf {mode} {owner} produce {'check' if check else ''} {'undo' if undo else ''}"
    return subprocess.run(
        ["bash", "-c", f'set -euo pipefail\n{library}\n{functions}{call}\necho "CHANGED=$CHANGED"'],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )


def test_replace_file_writes_once_then_leaves_the_file_alone(tmp_path):
    assert "CHANGED=yes" in replace_file(tmp_path, "echo server").stdout
    assert (tmp_path / "site.conf").read_text() == "server\n"
    again = replace_file(tmp_path, "echo server", check="echo checked")
    assert "CHANGED=no" in again.stdout and "is up to date" in again.stdout and "checked" not in again.stdout


def test_replace_file_mends_mode_and_owner_of_a_file_with_the_right_content(tmp_path):
    (tmp_path / "site.conf").write_text("secret\n")
    (tmp_path / "site.conf").chmod(0o666)
    mended = replace_file(tmp_path, "echo secret", mode="0640", owner="root:nogroup")
    assert "CHANGED=no" in mended.stdout and "set mode and owner to 640 root:nogroup" in mended.stdout
    stat = (tmp_path / "site.conf").stat()
    assert oct(stat.st_mode & 0o777) == "0o640" and grp.getgrgid(stat.st_gid).gr_name == "nogroup"
    assert "is up to date" in replace_file(tmp_path, "echo secret", mode="0640", owner="root:nogroup").stdout


def test_a_failing_producer_never_reaches_the_live_file(tmp_path):
    (tmp_path / "site.conf").write_text("live\n")
    result = replace_file(tmp_path, "echo half; return 3")
    assert result.returncode != 0 and "could not produce site.conf" in result.stderr
    assert (tmp_path / "site.conf").read_text() == "live\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.conf"]


def test_a_failed_check_puts_the_previous_file_back_then_undoes(tmp_path):
    (tmp_path / "site.conf").write_text("live\n")
    (tmp_path / "site.conf").chmod(0o600)
    result = replace_file(
        tmp_path,
        "echo new",
        check='echo "sees $(cat site.conf)"; return 1',
        undo='echo "restarted with $(cat site.conf)"',
    )
    assert result.returncode != 0 and "CHANGED" not in result.stdout
    assert "sees new; the previous site.conf is back and restarted with live" in result.stderr
    assert (tmp_path / "site.conf").read_text() == "live\n" and (tmp_path / "site.conf").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.conf"]


def test_a_failed_check_takes_a_new_file_away_when_there_was_none(tmp_path):
    result = replace_file(tmp_path, "echo new", check="echo no; return 1")
    assert result.returncode != 0 and "no; the new site.conf is removed again (there was none before)" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("before", ["live\n", None])
def test_a_file_a_cut_off_run_left_unchecked_is_checked_though_unchanged_and_put_back(tmp_path, before):
    """The run swapped in "new" and was cut off before its check; the next one renders "new" too."""
    (tmp_path / "site.conf").write_text("new\n")
    if before is None:
        (tmp_path / "site.conf.pactus-secure-none").touch()
    else:
        (tmp_path / "site.conf.pactus-secure-previous").write_text(before)
    result = replace_file(tmp_path, "echo new", check="echo rejected; return 1")
    assert result.returncode != 0 and "did not finish checking it: checking it now" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ([] if before is None else ["site.conf"])
    if before is not None:
        assert (tmp_path / "site.conf").read_text() == before


def test_a_file_a_cut_off_run_left_unchecked_stays_once_its_check_passes(tmp_path):
    (tmp_path / "site.conf").write_text("new\n")
    (tmp_path / "site.conf.pactus-secure-previous").write_text("live\n")
    result = replace_file(tmp_path, "echo new", check="echo reloaded")
    assert result.returncode == 0 and "reloaded\nCHANGED=yes" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.conf"]
    again = replace_file(tmp_path, "echo new", check="echo reloaded")
    assert "CHANGED=no" in again.stdout and "reloaded" not in again.stdout


def test_the_file_before_an_unfinished_change_is_the_one_kept(tmp_path):
    """A second change while the first is unchecked: a failed check goes back to the last checked file."""
    (tmp_path / "site.conf").write_text("first\n")
    (tmp_path / "site.conf.pactus-secure-previous").write_text("live\n")
    result = replace_file(tmp_path, "echo second", check="return 1")
    assert result.returncode != 0 and (tmp_path / "site.conf").read_text() == "live\n"


def test_a_passed_check_keeps_the_new_file_and_says_what_the_check_did(tmp_path):
    (tmp_path / "site.conf").write_text("live\n")
    result = replace_file(tmp_path, "echo new", check="echo reloaded")
    assert result.returncode == 0 and "wrote site.conf\nreloaded\nCHANGED=yes" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.conf"]
