"""A real local SMTP server (aiosmtpd) for the e-mail channel's tests, and an apprise URL sending to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.services import free_port


class Inbox:
    def __init__(self) -> None:
        self.mails: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        self.mails.append((list(envelope.rcpt_tos), content))
        return "250 Message accepted"


@contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def mail_url(port: int) -> str:
    return f"mailto://127.0.0.1:{port}/?from=alerts@oxiward.example&to=nurse@ward.example&secure=no"


def mail_text(raw: bytes) -> str:
    """Subject and body of a received mail, as a person reads them."""
    mail = message_from_bytes(raw, policy=policy.default)
    return str(mail["Subject"]) + "\n" + mail.get_body(("plain", "html")).get_content()  # type: ignore[union-attr]
