"""When certbot renews a certificate: the one rule that the certificate step keeps a
certificate by (rendered into templates/scripts/certificate.sh.j2), and that the stack's
renewalDue output and fleet status judge by."""

from __future__ import annotations

from datetime import datetime, timedelta

# certbot 4 renews with a third of the lifetime left, and with half of it under 10 days;
# Debian 12's certbot renews 30 days before expiry, which is the same for a 90-day certificate.
SHORT_LIFETIME = timedelta(days=10)


def left_at_renewal(lifetime: timedelta) -> timedelta:
    return lifetime / 2 if lifetime < SHORT_LIFETIME else lifetime / 3


def renewal_due(issued: datetime, expires: datetime) -> datetime:
    return expires - left_at_renewal(expires - issued)
