"""Sending mail over SMTP. Building a message is elsewhere (``crawler.digest.render``)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from crawler.config.settings import Settings
from crawler.errors import DigestError


def send_message(message: EmailMessage, settings: Settings) -> None:
    """Hand ``message`` to the configured SMTP server; any failure raises :class:`DigestError`."""
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DigestError(
            f"SMTP {settings.smtp_host}:{settings.smtp_port} failed: {exc.__class__.__name__}: {exc}"
        ) from exc
