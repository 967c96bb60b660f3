"""The operator's machine is a host too: what the demo and the tests' set-up do here as root,
run here as root. Their folders are root's alone and refuse what another user planted; pid
files name their process only; /etc/hosts is given back byte for byte, and so are the files
`destroy` keeps on a host (its renewal schedule); Ctrl-C lets pulumi save its state;
forwarding is opened for the servers' subnet alone and closed again."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testbed import demo, servers
from testbed.private import NotPrivate, private_folder
from testbed.processes import pid_alive, remember
from testbed.this_machine import given_back

pytestmark = pytest.mark.host
REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534


def test_a_private_folder_is_made_root_s_and_0700_under_a_sticky_one(tmp_path):
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    made = private_folder(sticky / "a" / "b")
    assert oct(made.stat().st_mode & 0o7777) == "0o700" and made.stat().st_uid == 0


@pytest.mark.parametrize("plant", ["owned by another user", "a link", "a parent others may write", "mode 0755"])
def test_a_folder_another_user_could_have_planted_is_refused(tmp_path, plant):
    target = tmp_path / "parent" / "cache"
    target.parent.mkdir()
    if plant == "owned by another user":
        target.mkdir(mode=0o700)
        os.chown(target, NOBODY, NOBODY)
    elif plant == "a link":
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        target.symlink_to(tmp_path / "elsewhere")
    elif plant == "a parent others may write":
        target.parent.chmod(0o777)
    else:
        target.mkdir(mode=0o755)
    with pytest.raises(NotPrivate):
        private_folder(target)


def test_the_root_cache_planted_by_another_user_is_refused_before_root_writes_in_it(tmp_path, monkeypatch):
    """The attack of a cache in /var/tmp: another user's folder, with the lock file linked to
    a file of root's. Nothing is opened there, so the file keeps its bytes."""
    cache = tmp_path / "cache"
    cache.mkdir()
    victim = tmp_path / "shadow"
    victim.write_text("root's secrets\n")
    (cache / "trixie-0.lock").symlink_to(victim)
    os.chown(cache, NOBODY, NOBODY)
    monkeypatch.setattr(servers, "CACHE", cache)
    with pytest.raises(NotPrivate, match="belongs to uid 65534"):
        servers._cached_root("trixie", wait=False)
    assert victim.read_text() == "root's secrets\n"


def test_a_link_planted_as_the_lock_or_the_root_is_not_followed(tmp_path, monkeypatch):
    """The debootstrap is a stand-in that records its call: the point is what is opened and copied."""
    cache = private_folder(tmp_path / "cache")
    monkeypatch.setattr(servers, "CACHE", cache)
    built = []
    monkeypatch.setattr(servers, "_build_root", lambda root, suite: built.append(root))
    root = servers._cached_root("trixie", wait=False)  # names the lock and the root as it would
    (tmp_path / "slash").mkdir()
    root.symlink_to(tmp_path / "slash")  # a `<suite>-<key>` link to a tree of root's
    with pytest.raises(NotPrivate, match="is a link, not a server root"):
        servers._cached_root("trixie", wait=False)
    assert len(built) == 1
    root.unlink()
    lock = root.with_name(root.name + ".lock")
    lock.unlink()
    lock.symlink_to(tmp_path / "victim")
    with pytest.raises(OSError):  # ELOOP: O_NOFOLLOW
        servers._cached_root("trixie", wait=False)
    assert not (tmp_path / "victim").exists()


def test_a_pid_file_names_its_process_and_no_later_one_with_the_same_pid(tmp_path):
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        remember(tmp_path / "sleep.pid", sleeper)
        assert pid_alive(tmp_path / "sleep.pid")
        pid, started = (tmp_path / "sleep.pid").read_text().split()
        (tmp_path / "reused.pid").write_text(f"{pid} {int(started) - 1}\n")  # as after a reboot
        assert not pid_alive(tmp_path / "reused.pid")
        assert not demo._stop(tmp_path / "reused.pid") and sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not pid_alive(tmp_path / "sleep.pid")


def test_a_daemon_s_own_pid_file_naming_a_zombie_is_not_running(tmp_path):
    """Like crond's /run/crond.pid (a pid alone) after its SIGTERM, before anything reaps it:
    the set-up took it for a cron that ran before, and left the next one running."""
    daemon = subprocess.Popen(["sleep", "30"])
    (tmp_path / "crond.pid").write_text(f"{daemon.pid}\n")
    try:
        assert pid_alive(tmp_path / "crond.pid")
        daemon.kill()
        time.sleep(0.2)  # ended, and not reaped yet: a zombie
        assert Path(f"/proc/{daemon.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
        assert not pid_alive(tmp_path / "crond.pid")
    finally:
        daemon.kill()
        daemon.wait()


def test_what_a_failed_start_left_running_down_can_stop(tmp_path, monkeypatch):
    """pebble.start is a stand-in that starts challtestsrv's double, then fails as a pebble that
    never listens would: the pid file is there all the same."""
    challtestsrv = tmp_path / "pebble-challtestsrv"
    shutil.copy("/bin/sleep", challtestsrv)
    monkeypatch.setattr(demo, "STATE", tmp_path)

    def failing_start(work, processes, **_):
        processes.append(subprocess.Popen([str(challtestsrv), "60"]))
        raise RuntimeError("pebble did not listen")

    monkeypatch.setattr(demo.pebble, "start", failing_start)
    with pytest.raises(RuntimeError):
        demo._start_pebble(demo.server())
    assert pid_alive(tmp_path / "challtestsrv.pid")
    assert demo._stop(tmp_path / "challtestsrv.pid") and not (tmp_path / "challtestsrv.pid").exists()


@pytest.mark.parametrize("ending", ["", "\n"])
def test_down_gives_etc_hosts_back_byte_for_byte(ending):
    before = demo.HOSTS.read_bytes()
    text = before.decode().rstrip("\n") + ending
    try:
        demo.HOSTS.write_text(text)
        demo._hosts_entry("10.77.30.2")
        lines = demo.HOSTS.read_text().splitlines()
        assert lines[-1].startswith(f"10.77.30.2 {demo.DOMAIN}") and lines[-2] == text.splitlines()[-1]
        demo._remove_hosts_entry()
        assert demo.HOSTS.read_text() == text
    finally:
        demo.HOSTS.write_bytes(before)


def test_a_kept_file_that_was_there_gets_its_text_and_mode_back(tmp_path):
    kept = tmp_path / "kept"
    kept.write_text("the operator's\n")
    kept.chmod(0o640)
    with given_back((str(kept),)):
        kept.write_text("the program's\n")
        kept.chmod(0o644)
    assert kept.read_text() == "the operator's\n"
    assert kept.stat().st_mode & 0o777 == 0o640


def test_a_kept_file_that_was_not_there_is_removed_even_when_the_suite_fails(tmp_path):
    added = tmp_path / "added"
    with pytest.raises(RuntimeError), given_back((str(added),)):
        added.write_text("the program's\n")
        raise RuntimeError("a test failed")
    assert not added.exists()


def test_a_kept_folder_that_was_not_there_is_removed_with_what_it_holds_and_one_that_was_stays(tmp_path):
    added, there = tmp_path / "added", tmp_path / "there"
    there.mkdir()
    with given_back((str(added), str(there))):
        (added / "acme").mkdir(parents=True)
        (there / "host.lock").touch()
    assert not added.exists() and (there / "host.lock").exists()


def test_down_removes_no_folder_the_demo_did_not_make(tmp_path):
    state = tmp_path / "precious"
    state.mkdir()
    (state / "wallet").write_text("keep me\n")
    down = subprocess.run(
        ["./demo", "down"],
        cwd=REPO,
        env={**os.environ, "PACTUS_SECURE_DEMO_STATE": str(state)},
        capture_output=True,
        text=True,
    )
    assert down.returncode != 0 and "it is not a demo's folder, and is left as it is" in down.stderr
    assert (state / "wallet").read_text() == "keep me\n"


def test_ctrl_c_lets_pulumi_finish_and_save_before_the_demo_stops(tmp_path):
    """`pulumi` is a stand-in that, as the CLI does on SIGINT, ends its step and saves its state
    (here: sleeps, then writes a file): the demo waits for it rather than killing it."""
    cli = tmp_path / "pulumi"
    cli.write_text(
        f"#!/bin/bash\ntrap 'kill $!; sleep 2; echo saved >{tmp_path}/state; exit 255' INT\nsleep 60 & wait\n"
    )
    cli.chmod(0o755)
    code = (
        "import types, pathlib; from testbed import demo\n"
        f"project = types.SimpleNamespace(pulumi={str(cli)!r}, directory={str(tmp_path)!r}, environment={{}})\n"
        "try:\n    demo._cli(project, 'up')\nexcept demo.DemoError as error:\n    print(error)\n"
    )
    run = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    time.sleep(1.5)
    os.killpg(run.pid, signal.SIGINT)  # as Ctrl-C: the whole foreground group
    out, _ = run.communicate(timeout=30)
    assert (tmp_path / "state").read_text() == "saved\n"
    assert "interrupted: pulumi up stopped after its current step and saved the stack" in out


def iptables(*args: str) -> str:
    return subprocess.run(["iptables", *args], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("first_up_found", [None, "0\n"])  # None: as ip_forward is now
def test_forwarding_opens_for_the_servers_subnet_alone_and_closes_again(first_up_found):
    """`first_up_found`: ip_forward as the demo's first `up` found it, for a second `up`."""
    subnet, before = "10.77.250.0/24", servers.IP_FORWARD.read_text()
    forward_before, nat_before = iptables("-S", "FORWARD"), iptables("-t", "nat", "-S")
    chain = servers.forward_chain(subnet)
    try:
        servers.route_to_the_mirror(subnet, forwarded_before=first_up_found)
        assert servers.IP_FORWARD.read_text().strip() == "1"
        assert iptables("-S", "FORWARD").splitlines()[1] == f"-A FORWARD -j {chain}"  # before any other rule
        rules = iptables("-S", chain).splitlines()
        assert rules[1] == f"-A {chain} -s {subnet} -j ACCEPT"
        assert rules[-1] == f"-A {chain} -j {'DROP' if (first_up_found or before).strip() == '0' else 'RETURN'}"
    finally:
        servers.stop_routing(before, subnet)
    assert iptables("-S", "FORWARD") == forward_before and iptables("-t", "nat", "-S") == nat_before
    assert servers.IP_FORWARD.read_text() == before
