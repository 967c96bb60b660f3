"""Hostile values in every string setting: each is refused at preview, naming its key, or
inert in everything rendered. A value is never rendered raw into a comment, a heredoc
delimiter or an unquoted shell word, so a newline cannot start a root command."""

from __future__ import annotations

import subprocess
import tomllib

import pytest

from render import scripts
from render.nginx import render_acme_http_site, render_tls_site
from render.pactus_config import render_managed_sections
from settings import SettingsError, parse_settings
from testbed.configs import MINIMAL
from testbed.credentials import BASIC_AUTH, HOST_KEY, SECRETS

PAYLOADS = {
    "newline": "\nid>/tmp/pwned",
    "carriage-return": "\rid",
    "nul": "\x00id",
    "double-quote": '"id"',
    "single-quote": "'id'",
    "command-substitution": "$(id)",
    "backticks": "`id`",
    "semicolon": ";id",
    "braces": "{id}",
    "very-long": "a" * 5000,
}
# A valid value of each string key; a payload is tried alone and appended to it.
STRING_KEYS = {
    "domain": "node1.example.com",
    "host": "203.0.113.10",
    "hostIpv6": "2a01:4f8:c0c:1234::1",
    "sshHost": "10.0.0.5",
    "sshUser": "deploy",
    "sshHostKey": HOST_KEY,
    "acmeEmail": "ops@example.com",
    "acmeServer": "https://acme.example.com/directory",
    "acmeCaBundle": "/etc/pactus-secure/ca.pem",
    "cloudflareZoneId": "0123456789abcdef0123456789abcdef",
    "distro": "debian",
    "pactusDir": "/home/pactus/pactus",
    "pactusService": "pactus.service",
    "grpc.listen": "127.0.0.1:50051",
    "jsonrpc.listen": "127.0.0.1:8545",
    "jsonrpc.path": "/jsonrpc",
    "jsonrpc.origins": "https://wallet.example.com",
    "http.listen": "127.0.0.1:8080",
    "http.basePath": "/http",
    "html.listen": "127.0.0.1:8090",
    "maxBodySize.grpc": "1m",
    "maxBodySize.jsonrpc": "32k",
    "maxBodySize.http": "64k",
    "sshPort": "22",
    "p2pPort": "21888",
}


def config_with(key: str, value: str) -> dict:
    raw = {
        **MINIMAL,
        "manageDns": "true" if key == "cloudflareZoneId" else "false",
        "jsonrpc": {"enable": True},
        "http": {"enable": True},
    }
    if "." not in key:
        return {**raw, key: value}
    section, field = key.split(".")
    return {**raw, section: {**raw.get(section, {}), field: [value] if field == "origins" else value}}


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("key", STRING_KEYS)
@pytest.mark.parametrize("placement", ["alone", "appended"])
def test_a_hostile_value_is_refused_naming_its_key(key, payload, placement):
    value = PAYLOADS[payload] if placement == "alone" else STRING_KEYS[key] + PAYLOADS[payload]
    with pytest.raises(SettingsError) as refused:
        parse_settings(config_with(key, value), stack="test", secrets={**SECRETS, "basicAuth": BASIC_AUTH})
    assert any(problem.startswith(f"pactus-secure:{key}") for problem in refused.value.problems), refused.value


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_hostile_secret_is_refused_without_being_shown(payload):
    with pytest.raises(SettingsError) as refused:
        parse_settings(MINIMAL, stack="test", secrets={**SECRETS, "basicAuth": BASIC_AUTH + PAYLOADS[payload]})
    assert "pactus-secure:basicAuth = (secret)" in str(refused.value) and PAYLOADS[payload] not in str(refused.value)


# Control characters and very long values are refused in pactusConfig's strings too.
REFUSED_IN_PACTUS_CONFIG = ("newline", "carriage-return", "nul", "very-long")


@pytest.mark.parametrize("payload", REFUSED_IN_PACTUS_CONFIG)
def test_a_control_character_or_a_long_string_in_pactus_config_is_refused_naming_its_key(payload):
    value = "node1" + PAYLOADS[payload]
    with pytest.raises(SettingsError) as refused:
        parse_settings(
            {
                **MINIMAL,
                "pactusConfig": {
                    "sync": {"moniker": value},
                    "node": {"reward_addresses": [value]},
                    "logger": {"levels": {value: "info"}},
                },
            },
            stack="test",
            secrets=SECRETS,
        )
    keys = {problem.split(" = ")[0] for problem in refused.value.problems}
    assert {"pactus-secure:pactusConfig.sync.moniker", "pactus-secure:pactusConfig.node.reward_addresses"} <= keys
    assert any(key.startswith("pactus-secure:pactusConfig.logger.levels.") for key in keys)


@pytest.mark.parametrize("payload", sorted(set(PAYLOADS) - set(REFUSED_IN_PACTUS_CONFIG)))
def test_a_hostile_string_in_pactus_config_is_inert_in_every_rendered_file(payload):
    """pactusConfig's strings are Pactus's to judge (a moniker is free text): they travel as
    TOML strings inside a quoted here-document, which the shell never expands."""
    value = "node1" + PAYLOADS[payload]
    settings = parse_settings(
        {**MINIMAL, "pactusConfig": {"sync": {"moniker": value}, "node": {"reward_addresses": [value]}}},
        stack="test",
        secrets=SECRETS,
    )
    assert tomllib.loads(render_managed_sections(settings))["sync"]["moniker"] == value
    rendered = {
        "config": scripts.pactus_config_script(settings),
        "host": scripts.host_setup_script(settings),
        "certificate": scripts.certificate_script(settings),
        "http-site": scripts.http_site_script(settings),
        "tls-site": scripts.tls_site_script(settings),
        "firewall": scripts.firewall_script(settings),
        "nginx-http": render_acme_http_site(settings),
        "nginx-tls": render_tls_site(settings, http2_directive=True, njs=True),
    }
    script = rendered.pop("config")
    for name, text in rendered.items():
        assert value not in text, name
    # In config.toml's script only as a TOML string, inside the quoted here-document of the sections.
    opening = f"<<'{scripts.HEREDOC_DELIMITER}'\n"
    start = script.index(opening) + len(opening)
    end = script.index(f"\n{scripts.HEREDOC_DELIMITER}\n", start)
    body = script[start:end]
    assert tomllib.loads(body)["sync"]["moniker"] == value
    assert value not in script[:start] + script[end:]
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0


def test_no_raw_value_is_rendered_into_a_script_comment():
    """Only the refusal of control characters keeps a newline out of a value: a comment
    carries none, so a value can never turn a comment line into a command."""
    settings = parse_settings(
        {
            **MINIMAL,
            "domain": "unique-domain.example.com",
            "pactusDir": "/home/pactus/unique-dir",
            "pactusService": "unique-unit.service",
            "firewall": "true",
        },
        stack="test",
        secrets={**SECRETS, "basicAuth": BASIC_AUTH},
    )
    rendered = [
        scripts.pactus_config_script(settings),
        scripts.host_setup_script(settings),
        scripts.certificate_script(settings),
        scripts.http_site_script(settings),
        scripts.tls_site_script(settings),
        scripts.firewall_script(settings),
        scripts.basic_auth_script(settings, BASIC_AUTH),
        scripts.site_remove_script(settings, "/etc/nginx/conf.d/x.conf"),
        scripts.file_remove_script(settings, "/etc/nginx/x.htpasswd"),
    ]
    comments = [line for script in rendered for line in _outside_heredocs(script) if line.lstrip().startswith("#")]
    for value in ("unique-domain", "unique-dir", "unique-unit"):
        assert [line for line in comments if value in line] == [], value


def test_values_reach_commands_as_arguments_never_as_options():
    settings = parse_settings({**MINIMAL, "pactusService": "pactus.service"}, stack="test", secrets=SECRETS)
    config, certificate = scripts.pactus_config_script(settings), scripts.certificate_script(settings)
    calls = [
        line
        for line in (config + certificate).splitlines()
        if "systemctl" in line and ('"$SERVICE"' in line or '"$timer"' in line)
    ]
    assert calls and all('-- "$SERVICE"' in line or '-- "$timer"' in line for line in calls), calls
    assert "--email=ops@example.com" in certificate and "-m ops@example.com" not in certificate


def _outside_heredocs(script: str) -> list[str]:
    """The script's own lines: a quoted here-document's body is data (an Nginx file, config.toml)."""
    lines, inside = [], False
    for line in script.splitlines():
        if inside:
            inside = line != scripts.HEREDOC_DELIMITER
        else:
            lines.append(line)
            inside = f"<<'{scripts.HEREDOC_DELIMITER}'" in line
    return lines
