"""One node's settings: every key declared once (model.py), read by parse.py, checked one value
at a time (checks.py, pactus_schema.py) and between keys (rules.py), then passed around as a
frozen `Settings`. The secrets are declared in secrets.py and never held in Settings. Nothing
here knows Pulumi."""

from settings.constants import LETSENCRYPT_PRODUCTION, LETSENCRYPT_STAGING, MANAGED_SECTIONS
from settings.model import Settings
from settings.pactus_schema import PACTUS_SCHEMA
from settings.parse import parse_settings
from settings.problems import NAMESPACE, SettingsError
from settings.secrets import BASIC_AUTH, CLOUDFLARE_TOKEN, SSH_PRIVATE_KEY
from settings.types import Listen

__all__ = [
    "BASIC_AUTH",
    "CLOUDFLARE_TOKEN",
    "LETSENCRYPT_PRODUCTION",
    "LETSENCRYPT_STAGING",
    "MANAGED_SECTIONS",
    "NAMESPACE",
    "PACTUS_SCHEMA",
    "SSH_PRIVATE_KEY",
    "Listen",
    "Settings",
    "SettingsError",
    "parse_settings",
]
