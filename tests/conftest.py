"""Fixtures more than one test module uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.certificates import self_signed


@pytest.fixture(scope="module")
def throwaway_certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for nginx -t to load in place of Let's Encrypt's files."""
    directory = tmp_path_factory.mktemp("certificate")
    certificate, key = directory / "fullchain.pem", directory / "privkey.pem"
    self_signed(certificate, key, name="test", days=1)
    return certificate, key
