"""The real-host suites' fixtures: this machine as the node's server (testbed/this_machine.py),
started once a session, and a copy of the project for the real engine."""

from __future__ import annotations

import os

import pytest

from testbed.postgres import start_postgres
from testbed.stack import Project
from testbed.this_machine import this_machine_as_a_node
from testbed.tools import ToolMissing


@pytest.fixture(scope="session")
def project(tmp_path_factory) -> Project:
    """A copy of this project for the real engine, with its own file backend and PULUMI_HOME."""
    try:
        return Project(tmp_path_factory.mktemp("pulumi"))
    except ToolMissing as missing:
        pytest.fail(str(missing))


@pytest.fixture(scope="session")
def machine(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail(
            "the real-host suite runs the program's scripts as they run on a server: run it as root "
            "(or run the unit tests alone with `-m 'not host'`)"
        )
    with this_machine_as_a_node(tmp_path_factory.mktemp("host")) as machine:
        yield machine


@pytest.fixture(scope="session")
def postgres():
    """A team's shared backend: a PostgreSQL cluster of the session's own, over TLS."""
    database = start_postgres()
    yield database
    database.stop()
