"""The rendered Nginx files, compared whole with the golden files in tests/nginx_cases/.

Each case file is a description, then `=== config` (the stack values over the minimal
config, as JSON; `"basicAuth": true` sets the credential), then the files the node gets,
each under `=== <name>`. After a deliberate change to a template, rewrite the expected
files with `python -m tests.nginx_golden` and read the diff before committing it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from render.nginx import render_acme_http_site, render_tls_site
from settings import Settings
from testbed.configs import MINIMAL, settings_of
from testbed.credentials import BASIC_AUTH, SECRETS
from tests.cases import parse_case

CASES = Path(__file__).parent / "nginx_cases"
# The TLS site as nginx < 1.25.1 (Debian 12's) with njs takes it; the other forms differ only
# in how HTTP/2 is turned on and in JSON-RPC's guard, which tests/test_nginx_config.py checks.
FILES = {
    "acme-http.conf": render_acme_http_site,
    "tls-proxy.conf": lambda settings: render_tls_site(settings, http2_directive=False, njs=True),
}


def case_settings(parts: dict[str, str]) -> Settings:
    config = json.loads(parts["config"])
    basic_auth = config.pop("basicAuth", False)
    return settings_of({**MINIMAL, **config}, secrets={**SECRETS, "basicAuth": BASIC_AUTH} if basic_auth else SECRETS)


def rendered(parts: dict[str, str]) -> dict[str, str]:
    settings = case_settings(parts)
    return {name: render(settings) for name, render in FILES.items()}


def main() -> int:
    for path in sorted(CASES.glob("*.case")):
        parts = parse_case(path)
        text = parts["description"] + "=== config\n" + parts["config"]
        text += "".join(f"=== {name}\n{content}" for name, content in rendered(parts).items())
        path.write_text(text)
        print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
