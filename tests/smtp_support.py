"""An SMTP server for the tests: aiosmtpd on 127.0.0.1, on a port of its own; ``stop()`` it."""

from __future__ import annotations

from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from medallion.local.services import AlertSettings
from medallion.sample.pgserver import free_port


@dataclass
class Inbox:
    """Messages an aiosmtpd server on 127.0.0.1 received."""

    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on 127.0.0.1, started as it is made; ``stop()`` in teardown."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def settings(self) -> AlertSettings:
        """Alert settings that deliver here."""
        return AlertSettings(
            host="127.0.0.1",
            port=self.port,
            sender="medallion@example.com",
            recipients=("oncall@example.com",),
        )

    @property
    def env(self) -> dict[str, str]:
        """The environment that sends a command's alerts here."""
        return {"MEDALLION_SMTP_HOST": "127.0.0.1", "MEDALLION_SMTP_PORT": str(self.port)}

    def stop(self) -> None:
        self.controller.stop()
