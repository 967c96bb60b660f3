"""What the fleet command checks before any stack runs: every stack's settings pass, read by
the program's own reader (the key named, no host touched), and no two stacks fight over one
server: its files, its default server of :443, or the certbot that renews for both."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pulumi import automation as auto

from settings import Settings, SettingsError
from settings.stack_config import StackValue, read_stack_config


def read_all(configs: Mapping[str, Mapping[str, auto.ConfigValue]]) -> tuple[dict[str, Settings], list[str]]:
    """Each stack's Settings as its preview would read them, and the problems of those that fail."""
    settings, problems = {}, []
    for stack, config in sorted(configs.items()):
        values = {key: StackValue(item.value, item.secret) for key, item in config.items()}
        try:
            settings[stack], _ = read_stack_config(values, stack=stack, environ=os.environ)
        except SettingsError as error:
            problems += [f"{stack}: {problem}" for problem in error.problems]
    return settings, problems


def clashes(nodes: Mapping[str, Settings]) -> list[str]:
    """Two stacks on one host take turns under its lock; but some things of a host have one
    owner: a name (a domain, or an IP address) and its certificate, a pactusDir, the default
    server of :443 (an IP-address node's), and whether certbot comes from the distribution."""
    problems = []
    owners: dict[tuple, str] = {}
    for stack, node in sorted(nodes.items()):
        claims = [
            (("name", node.name), f"the name {node.name} (its site and certificate)"),
            (("dir", node.ssh_host, node.pactus_dir), f"pactusDir {node.pactus_dir} on {node.ssh_host}"),
        ]
        if node.ip_address_certificate:
            claims.append((("default of 443", node.ssh_host), f"the default server of :443 on {node.ssh_host}"))
        for claim, what in claims:
            if claim in owners:
                problems.append(f"stacks {owners[claim]} and {stack} share {what}: give each its own")
            else:
                owners[claim] = stack
    problems += _certbot_disagreements(nodes)
    return problems


def _certbot_disagreements(nodes: Mapping[str, Settings]) -> list[str]:
    """`certbot: distro` removes certbot from PyPI, which `auto` or `pypi` of another stack on
    the same host may need (for an IP address or a profile): one host, one answer."""
    by_host: dict[str, dict[str, str]] = {}
    for stack, node in sorted(nodes.items()):
        by_host.setdefault(node.ssh_host, {})[stack] = node.certbot
    problems = []
    for host, sources in sorted(by_host.items()):
        distro = sorted(stack for stack, source in sources.items() if source == "distro")
        others = sorted(stack for stack, source in sources.items() if source != "distro")
        if distro and others:
            problems.append(
                f"stacks {', '.join(distro)} (certbot distro) and {', '.join(others)} (certbot "
                f"{'/'.join(sorted({sources[s] for s in others}))}) share {host}, where one certbot renews "
                "every certificate: set the same pactus-secure:certbot in each"
            )
    return problems
