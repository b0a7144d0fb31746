"""Email over SMTP when ``SMTP_URL`` is set, else into a local maildir (for the demo)."""

import mailbox
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from app.application.errors import PermanentFailure, TransientFailure

SENDER = "outboxflow <noreply@outboxflow.local>"


def _message(to: str, subject: str, body: str, idempotency_key: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(idstring=idempotency_key.replace(":", "."))
    message["X-Idempotency-Key"] = idempotency_key
    message.set_content(body)
    return message


class SmtpEmailSender:
    """``smtp://user:pass@host:port`` (``?starttls=1`` to upgrade) or ``smtps://…``."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("smtp", "smtps") or not parsed.hostname:
            raise ValueError("SMTP_URL must look like smtp://[user:pass@]host[:port]")
        self._ssl = parsed.scheme == "smtps"
        self._host = parsed.hostname
        self._port = parsed.port or (465 if self._ssl else 25)
        self._user = unquote(parsed.username) if parsed.username else None
        self._password = unquote(parsed.password) if parsed.password else None
        self._starttls = parse_qs(parsed.query).get("starttls", ["0"])[0] in ("1", "true")
        self._timeout = timeout

    def send(self, *, to: str, subject: str, body: str, idempotency_key: str) -> None:
        smtp_class = smtplib.SMTP_SSL if self._ssl else smtplib.SMTP
        try:
            with smtp_class(self._host, self._port, timeout=self._timeout) as smtp:
                if self._starttls:
                    smtp.starttls()
                if self._user:
                    smtp.login(self._user, self._password or "")
                smtp.send_message(_message(to, subject, body, idempotency_key))
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentFailure(f"SMTP refused the recipient {to}: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientFailure(f"SMTP delivery failed: {exc}") from exc


class MaildirEmailSender:
    """Writes each message into a maildir; open it with any mail client or ``ls``."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def send(self, *, to: str, subject: str, body: str, idempotency_key: str) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        mailbox.Maildir(self._path, create=True).add(_message(to, subject, body, idempotency_key))
