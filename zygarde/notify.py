"""Notices of a finished run: e-mail over SMTP and JSON to webhooks (core Prefect has no SMTP block).

Sending is best effort: a notice that cannot be delivered is logged as a warning, never fails the run it
reports on.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from typing import Any

import httpx

from zygarde.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """What happened to one run, in words (subject, body) and as data (the webhook's JSON)."""

    subject: str
    body: str
    state: str
    flow: str
    flow_run: str
    url: str = ""
    facts: dict[str, Any] = field(default_factory=dict)


def send_email(settings: Settings, recipients: list[str], notice: Notice) -> bool:
    """Mail ``notice`` to ``recipients`` through the configured SMTP server; False (logged) if it failed."""
    if not recipients:
        return True
    message = EmailMessage()
    message["Subject"] = notice.subject
    message["From"] = settings.smtp_sender
    message["To"] = ", ".join(recipients)
    message.set_content(notice.body)
    try:
        smtp_class = smtplib.SMTP_SSL if settings.smtp_security == "tls" else smtplib.SMTP
        with smtp_class(settings.smtp_host, settings.smtp_port, timeout=20) as smtp:
            if settings.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("notice to %s not sent via %s:%s (%s)", recipients, settings.smtp_host, settings.smtp_port, exc)
        return False
    return True


def post_webhooks(urls: list[str], notice: Notice) -> bool:
    """POST ``notice`` as JSON to every URL; False (logged) if any failed."""
    delivered = True
    for url in urls:
        try:
            httpx.post(url, json=asdict(notice), timeout=20).raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("notice not delivered to %s (%s)", url, exc)
            delivered = False
    return delivered
