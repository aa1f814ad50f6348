"""Sending e-mail through the configured SMTP server (aiosmtplib): reports, reminders."""

import asyncio
import hashlib
from collections.abc import Coroutine
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import aiosmtplib

from cooperation.settings import Settings


class MailError(Exception):
    """The message was not accepted; `str()` says why, for the run archive."""


class MailNotConfigured(MailError):
    """Demo mode without an SMTP server: the message waits, and nobody is warned about it each time."""


NOT_CONFIGURED = (
    "Mail is not configured (demo mode): reminders and report e-mails wait until COOP_SMTP_HOST names an SMTP server "
    "(see docs/configuration.md); nothing is lost meanwhile."
)


def message(
    settings: Settings,
    *,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    attachment: tuple[str, bytes, str] | None = None,
    stable_id: str | None = None,
) -> EmailMessage:
    """`stable_id` makes the Message-ID the same on every attempt, so a receiving server can drop a duplicate
    if a send is retried after the server had in fact accepted it."""
    mail = EmailMessage()
    mail["From"] = settings.mail_from
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=False)
    domain = settings.mail_from.rsplit("@", 1)[-1].strip("> ") or "libcoop.local"
    if stable_id:
        mail["Message-ID"] = f"<{hashlib.sha256(stable_id.encode()).hexdigest()[:32]}@{domain}>"
    else:
        mail["Message-ID"] = make_msgid(domain=domain)
    mail.set_content(text)
    if html:
        mail.add_alternative(html, subtype="html")
    if attachment:
        filename, content, media_type = attachment
        maintype, subtype = media_type.split("/", 1)
        mail.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return mail


async def send(settings: Settings, mail: EmailMessage) -> str:
    """Send; the server's final answer (for `coop mail test`), or MailError saying what went wrong."""
    if not settings.mail_enabled:
        raise MailNotConfigured("no SMTP server configured (COOP_SMTP_HOST)")
    try:
        _refused, answer = await aiosmtplib.send(
            mail,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_user,
            password=settings.smtp_password,
            start_tls=settings.smtp_starttls,
            timeout=30,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise MailError(f"{type(exc).__name__}: {exc}"[:900]) from exc
    return str(answer)


class Later:
    """Work done after the answer is sent (a password-reset e-mail): the answer takes the same time whether or not the
    address has an account, and the SMTP round trip is no longer inside the request. Kept until done; the server
    waits for them when it stops."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def run(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
