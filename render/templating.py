"""The one Jinja environment every file and script is rendered with."""

from __future__ import annotations

import shlex
from pathlib import Path

import jinja2

from render.host_layout import HOST_LOCK_DIR

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# How each line a host script prints begins (its log and fail functions), and the line it
# fails with: the program and the fleet command read them back.
SAYS = "pactus-secure: "
FAILS = SAYS + "error: "

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
    # `{#` is common in shell (${#array[@]}), so template comments are {## ... ##}.
    comment_start_string="{##",
    comment_end_string="##}",
)
_environment.filters["sh"] = lambda value: shlex.quote(str(value))
_environment.globals.update(says=SAYS, fails=FAILS, host_lock_dir=HOST_LOCK_DIR)


def render(template: str, **context: object) -> str:
    return _environment.get_template(template).render(**context)
