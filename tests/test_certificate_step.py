"""The certificate step's decisions, run on this machine: which certificate it keeps, when it
issues anew, which certbot may be asked for an ACME profile; and the renewal date the stack
outputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from render.renewal import renewal_due
from render.scripts import certbot_plan, certificate_script, host_file
from settings.constants import CERTBOT_PYPI_VERSION
from testbed.certificates import self_signed
from testbed.configs import IP_ADDRESS_NODE, MINIMAL, settings_of
from tests.shell import run_function, venv_paths, whole_venv

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


def later(seconds: int) -> str:
    """Shell that moves the step's clock (date +%s) `seconds` on."""
    return f'date() {{ [ "$1" = +%s ] && echo $(($(command date +%s) + {seconds})) || command date "$@"; }}\n'


@pytest.mark.parametrize("days", [90, 6], ids=["90 days: a third left", "6 days: half left"])
def test_the_step_renews_when_the_renewal_due_output_says_certbot_would(tmp_path, days):
    """The contract between certificate_current and render/renewal.py's rule: kept an hour
    before renewalDue, renewed an hour after it."""
    paths = issued(tmp_path, days=days)
    now = datetime.now(UTC)
    due = renewal_due(now, now + timedelta(days=days))
    before, after = (int((due - now).total_seconds()) + shift for shift in (-3600, 3600))
    assert kept(tmp_path, script(), paths + later(before))
    assert not kept(tmp_path, script(), paths + later(after))


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


def choose(tmp_path: Path, step: str, certbot: Path, *, source: str, venv: Path | None = None):
    """choose_certbot with the fake as the distribution's certbot; PyPI's stands in as a line
    that says it was chosen and why (the real install runs on the real servers)."""
    venv = venv or tmp_path / "venv"
    setup = (
        f"CERTBOT_SOURCE={source} {venv_paths(tmp_path, venv)} CERTBOT_LINK={tmp_path}/link\n"
        'use_pypi_certbot() { echo "certbot from PyPI: $1"; }\n'
    )
    chosen = 'choose_certbot; remove_pypi_certbot; echo "runs $CERTBOT"'  # the removal follows the scheduling
    return run_function(step, setup + chosen, tmp_path, [certbot], check=False)


@pytest.mark.parametrize(
    "version, probed",
    [("4.0.0", True), ("4.1.0", False), ("5.8.0", False)],  # Debian 13's patched 4.0; upstream's, by version
)
def test_a_certbot_that_keeps_the_profile_at_renewal_is_asked_for_it(tmp_path, version, probed):
    """4.1 and later keep it by their version alone (a snap's certbot has no Python to ask)."""
    certbot = fake_certbot(tmp_path, version=version, keeps_profiles=probed)
    chosen = choose(tmp_path, script("shortlived"), certbot, source="auto")
    assert chosen.returncode == 0, chosen.stderr
    assert f"certbot {version}, the distribution's, does what the stack asks" in chosen.stdout
    assert chosen.stdout.endswith(f"runs {certbot}/certbot\n")


@pytest.mark.parametrize("version", ["2.1.0", "4.0.0"])  # Debian 12's; upstream 4.0 drops it at renewal
def test_a_certbot_that_would_drop_the_profile_is_refused_with_the_reason(tmp_path, version):
    certbot = fake_certbot(tmp_path, version=version, keeps_profiles=False)
    refused = choose(tmp_path, script("shortlived"), certbot, source="distro")
    assert refused.returncode != 0
    assert (
        f"this host's certbot is {version} (Debian 12 ships 2.1): set pactus-secure:certbot pypi (or auto) "
        "for certbot 5.8.0 from PyPI, or unset acmeProfile" in refused.stderr
    )


def test_auto_takes_certbot_from_pypi_where_the_distributions_cannot_keep_the_profile(tmp_path):
    certbot = fake_certbot(tmp_path, version="2.1.0", keeps_profiles=False)
    chosen = choose(tmp_path, script("shortlived"), certbot, source="auto")
    assert "certbot from PyPI: acmeProfile shortlived needs a certbot that asks for the profile" in chosen.stdout


@pytest.mark.parametrize("version, enough", [("5.3.1", False), ("5.4.0", True), ("4.0.0", False)])
def test_an_ip_address_certificate_needs_certbot_5_4(tmp_path, version, enough):
    certbot = fake_certbot(tmp_path, version=version, keeps_profiles=True)
    step = certificate_script(settings_of(IP_ADDRESS_NODE))
    chosen = choose(tmp_path, step, certbot, source="auto")
    reason = f"an IP-address certificate needs certbot 5.4 or later; this host's certbot is {version}"
    assert (f"certbot from PyPI: {reason}" in chosen.stdout) != enough, chosen.stdout


def test_without_a_profile_any_certbot_will_do(tmp_path):
    certbot = fake_certbot(tmp_path, version="2.1.0", keeps_profiles=False)
    assert choose(tmp_path, script(), certbot, source="distro").stdout.endswith(f"runs {certbot}/certbot\n")


def pypi_certbot_installed_before(tmp_path: Path) -> Path:
    """The venv, its link and the command's link a run under certbot: pypi left (its certbot
    is not run here)."""
    venv = tmp_path / "venv"
    whole_venv(tmp_path / "venvs" / "5.8.0-0123456789abcdef", "certbot==5.8.0\n")
    venv.symlink_to(tmp_path / "venvs" / "5.8.0-0123456789abcdef")
    (tmp_path / "link").symlink_to(venv / "bin" / "certbot")
    return venv


def test_pypi_certbot_stays_under_auto_and_goes_with_distro(tmp_path):
    """Under auto the distribution's package was removed for it: it stays. `distro` removes
    the venv and the link to it."""
    certbot = fake_certbot(tmp_path, version="2.1.0", keeps_profiles=False)
    venv = pypi_certbot_installed_before(tmp_path)
    assert "certbot from PyPI: installed before" in choose(tmp_path, script(), certbot, source="auto").stdout
    back = choose(tmp_path, script(), certbot, source="distro")
    assert f"removed certbot from PyPI ({venv})" in back.stdout
    assert not venv.is_symlink() and not (tmp_path / "venvs").exists() and not (tmp_path / "link").is_symlink()
    assert back.stdout.endswith(f"runs {certbot}/certbot\n")


def test_a_refused_switch_back_to_distro_keeps_pypi_certbot(tmp_path):
    """Under a profile Debian 12's certbot cannot keep, `distro` is refused before the venv goes."""
    certbot = fake_certbot(tmp_path, version="2.1.0", keeps_profiles=False)
    venv = pypi_certbot_installed_before(tmp_path)
    refused = choose(tmp_path, script("shortlived"), certbot, source="distro")
    assert refused.returncode != 0 and "set pactus-secure:certbot pypi" in refused.stderr
    assert (venv / "pactus-secure-requirements.txt").exists() and (tmp_path / "link").is_symlink()


@pytest.mark.parametrize(
    "config, says",
    [
        (MINIMAL, "certbot: the distribution's (PyPI's where an earlier up installed it)"),
        ({**MINIMAL, "acmeProfile": "tlsserver"}, "the distribution's if it can keep acmeProfile tlsserver"),
        (IP_ADDRESS_NODE, "issue for an IP address (5.4+), else 5.8.0 from PyPI in /opt/certbot"),
        ({**MINIMAL, "certbot": "pypi"}, "certbot: 5.8.0 from PyPI in /opt/certbot (certbot: pypi), which follows ARI"),
        (MINIMAL, "; ARI from certbot 4.1 only (not Debian 12's 2.1 or 13's 4.0)"),
        ({**IP_ADDRESS_NODE, "certbot": "distro"}, "refused unless it can keep acmeProfile shortlived"),
    ],
)
def test_preview_says_which_certbot_the_host_will_run_and_why(config, says):
    assert says in certbot_plan(settings_of(config))


def test_a_distro_only_stack_carries_no_pypi_requirements_and_the_others_pin_each_file():
    assert "pypi_requirements()" not in certificate_script(settings_of({**MINIMAL, "certbot": "distro"}))
    step = certificate_script(settings_of(MINIMAL))
    requirements = step.split("pypi_requirements() {", 1)[1].split("PACTUS_SECURE_END_OF_FILE\n}", 1)[0]
    pins = [line.split(" ")[0] for line in requirements.splitlines() if "==" in line]
    assert {f"certbot=={CERTBOT_PYPI_VERSION}", f"acme=={CERTBOT_PYPI_VERSION}"} <= set(pins) and len(pins) > 10
    assert requirements.count("--hash=sha256:") >= 2 * len(pins)  # every pin: a wheel and its sdist at least


def test_the_renewal_due_output_is_when_certbot_renews():
    issued = datetime(2027, 1, 1, tzinfo=UTC)
    assert renewal_due(issued, issued + timedelta(days=90)) == issued + timedelta(days=60)  # classic
    assert renewal_due(issued, issued + timedelta(days=45)) == issued + timedelta(days=30)  # tlsserver
    assert renewal_due(issued, issued + timedelta(hours=160)) == issued + timedelta(hours=80)  # shortlived


def test_the_timers_worst_case_gap_leaves_a_shortlived_certificate_three_runs_to_renew():
    """Our timer (as Debian's certbot.timer) fires at 00:00 and 12:00, each after a random delay
    of up to 12 hours: two runs can be 24 hours apart (one fires at once, the next at the end
    of its delay). A 160-hour certificate is renewed with half of it left: 80 hours."""
    timer = dict(line.split("=", 1) for line in host_file("certbot-renew.timer").splitlines() if "=" in line)
    hours = sorted(int(hour) for hour in timer["OnCalendar"].split()[1].split(":")[0].split(","))
    delay = timedelta(hours=int(timer["RandomizedDelaySec"].removesuffix("h")))
    longest_gap = max(timedelta(hours=b - a) for a, b in zip(hours, [*hours[1:], hours[0] + 24], strict=True)) + delay
    assert longest_gap == timedelta(hours=24)
    issued = datetime(2027, 1, 1, tzinfo=UTC)
    expires = issued + timedelta(hours=160)
    assert (expires - renewal_due(issued, expires)) // longest_gap >= 3
