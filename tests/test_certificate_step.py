"""The certificate step's decisions, run on this machine: which certificate it keeps, when it
issues anew, which certbot may be asked for an ACME profile; and the renewal date the stack
outputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from components.endpoint_check import renewal_due
from render.scripts import certificate_script
from testbed.certificates import self_signed
from tests.configs import MINIMAL, settings_of
from tests.shell import run_function

SERVER = "https://acme.example.com/directory"


def script(profile: str | None = None) -> str:
    return certificate_script(settings_of({**MINIMAL, "acmeServer": SERVER, "acmeProfile": profile or ""}))


def issued(tmp_path: Path, *, days: int, server: str = SERVER, profile: str | None = None) -> str:
    """A certificate of `days` and the renewal config certbot would write; the shell that points
    the step at them."""
    self_signed(tmp_path / "fullchain.pem", tmp_path / "privkey.pem", name="node1.example.com", days=days)
    lines = [f"server = {server}"] + ([f"preferred_profile = {profile}"] if profile else [])
    (tmp_path / "renewal.conf").write_text("[renewalparams]\n" + "\n".join(lines) + "\n")
    return f"CERTIFICATE={tmp_path}/fullchain.pem RENEWAL_CONF={tmp_path}/renewal.conf\n"


def kept(tmp_path: Path, step: str, paths: str) -> bool:
    return run_function(step, paths + "certificate_current", tmp_path, check=False).returncode == 0


def test_a_fresh_certificate_is_kept_under_the_same_server_and_profile(tmp_path):
    assert kept(tmp_path, script(), issued(tmp_path, days=90))
    assert kept(tmp_path, script("shortlived"), issued(tmp_path, days=6, profile="shortlived"))


def test_a_change_of_server_or_profile_issues_anew(tmp_path):
    assert not kept(tmp_path, script(), issued(tmp_path, days=90, server="https://other.example.com/dir"))
    assert not kept(tmp_path, script("tlsserver"), issued(tmp_path, days=90))
    assert not kept(tmp_path, script("tlsserver"), issued(tmp_path, days=90, profile="shortlived"))
    assert not kept(tmp_path, script(), issued(tmp_path, days=90, profile="shortlived"))  # back to the default


def test_a_certificate_with_a_third_of_its_lifetime_or_less_left_is_renewed(tmp_path):
    """One day is a third of three: the step renews as certbot 4 would (30 days of 90)."""
    paths = issued(tmp_path, days=3)
    assert kept(tmp_path, script(), paths)
    two_days_on = 'date() { [ "$1" = +%s ] && echo $(($(command date +%s) + 2 * 86400 + 60)) || command date "$@"; }\n'
    assert not kept(tmp_path, script(), paths + two_days_on)


def fake_certbot(tmp_path: Path, *, version: str, keeps_profiles: bool) -> Path:
    """A certbot whose renewal module restores preferred_profile or not, run by this Python."""
    package = tmp_path / "site" / "certbot" / "_internal"
    package.mkdir(parents=True)
    for folder in (package.parent, package):
        (folder / "__init__.py").write_text("")
    items = ["server", "preferred_chain"] + (["preferred_profile", "required_profile"] if keeps_profiles else [])
    (package / "renewal.py").write_text(f"STR_CONFIG_ITEMS = {items!r}\n")
    interpreter = tmp_path / "python3"
    interpreter.write_text(f'#!/bin/sh\nPYTHONPATH={tmp_path / "site"} exec python3 "$@"\n')
    certbot = tmp_path / "bin" / "certbot"
    certbot.parent.mkdir()
    certbot.write_text(f'#! {interpreter}\nprint("certbot {version}")\n')
    for program in (interpreter, certbot):
        program.chmod(0o755)
    return certbot.parent


@pytest.mark.parametrize(
    "version, probed",
    [("4.0.0", True), ("4.1.0", False), ("5.8.0", False)],  # Debian 13's patched 4.0; upstream's, by version
)
def test_a_certbot_that_keeps_the_profile_at_renewal_is_asked_for_it(tmp_path, version, probed):
    """4.1 and later keep it by their version alone (a snap's certbot has no Python to ask)."""
    certbot = fake_certbot(tmp_path, version=version, keeps_profiles=probed)
    result = run_function(script("shortlived"), "check_certbot_keeps_profiles", tmp_path, [certbot])
    assert f"certbot {version} asks for the ACME profile shortlived and keeps it at renewal" in result.stdout


@pytest.mark.parametrize("version", ["2.1.0", "4.0.0"])  # Debian 12's; upstream 4.0 drops it at renewal
def test_a_certbot_that_would_drop_the_profile_is_refused_with_the_reason(tmp_path, version):
    certbot = fake_certbot(tmp_path, version=version, keeps_profiles=False)
    refused = run_function(script("shortlived"), "check_certbot_keeps_profiles", tmp_path, [certbot], check=False)
    assert refused.returncode != 0
    assert f"this host's certbot is {version} (Debian 12 ships 2.1): unset pactus-secure:acmeProfile" in refused.stderr


def test_without_a_profile_any_certbot_will_do(tmp_path):
    certbot = fake_certbot(tmp_path, version="2.1.0", keeps_profiles=False)
    assert run_function(script(), "check_certbot_keeps_profiles", tmp_path, [certbot]).returncode == 0


def test_the_renewal_due_output_is_when_certbot_renews():
    issued = datetime(2027, 1, 1, tzinfo=UTC)
    assert renewal_due(issued, issued + timedelta(days=90)) == issued + timedelta(days=60)  # classic
    assert renewal_due(issued, issued + timedelta(days=45)) == issued + timedelta(days=30)  # tlsserver
    assert renewal_due(issued, issued + timedelta(hours=160)) == issued + timedelta(hours=80)  # shortlived
