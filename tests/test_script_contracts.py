"""The lines host scripts print that Python reads back: each string has one home in Python
(render/templating.py, render/scripts.py), the scripts are rendered from it, and each test
here runs the rendered line and hands what it printed to the reader."""

from __future__ import annotations

from pulumi.automation import CommandError
from pulumi.automation._cmd import CommandResult

from fleet.run import _reason
from render import scripts
from render.scripts import RESTART_YOURSELF, certbot_version_in
from render.templating import SAYS, TEMPLATES
from testbed.configs import MINIMAL, settings_of
from tests.shell import run_function


def test_a_scripts_error_line_is_the_reason_the_fleet_table_shows(tmp_path):
    script = scripts.pactus_config_script(settings_of(MINIMAL))
    failed = run_function(script, 'fail "no Pactus working directory at /srv/pactus"', tmp_path, check=False)
    assert failed.returncode == 1
    error = CommandError(CommandResult("", f"error: update failed\nstderr: {failed.stderr}", 255))
    assert _reason(error) == "no Pactus working directory at /srv/pactus"


def test_the_config_steps_restart_line_is_the_one_the_program_looks_for(tmp_path):
    """SecureNode reads it to name the likely cause when the node still runs its old config.toml."""
    script = scripts.pactus_config_script(settings_of(MINIMAL))
    line = next(line.strip() for line in script.splitlines() if RESTART_YOURSELF in line)
    printed = run_function(script, line, tmp_path).stdout
    assert printed == f"{SAYS}{RESTART_YOURSELF}\n"


def test_the_certbot_the_certificate_step_names_is_read_back_from_its_lines():
    """The contract between certificate.sh.j2's two lines and certbot_version_in (the
    certbotVersion output, whose version tells fleet status whether the host follows ARI)."""
    template = (TEMPLATES / "scripts" / "certificate" / "certbot.sh.j2").read_text()
    said = {
        'log "certbot $version, the distribution\'s, does what the stack asks"': "2.1.0",
        'log "certbot $(certbot_version "$CERTBOT") from PyPI in $CERTBOT_VENV: $1"': "5.8.0",
    }
    for line, version in said.items():
        assert line in template
        printed = SAYS + line.removeprefix('log "').removesuffix('"')
        printed = printed.replace('$(certbot_version "$CERTBOT")', version).replace("$version", version)
        assert certbot_version_in(f"pactus-secure: distribution family: debian\n{printed}\n") == version
    assert certbot_version_in("pactus-secure: certbot: distro\n") is None
