"""Errors raised by the pure protocol decoders."""

from __future__ import annotations


class ProtocolError(Exception):
    """Base of every error the protocol core raises on bad input."""

    def __init__(self, protocol: str, reason: str) -> None:
        super().__init__(f"{protocol}: {reason}")
        self.protocol = protocol
        self.reason = reason


class FrameError(ProtocolError):
    """A frame that does not match its protocol's layout (wrong length, impossible field value).

    The frame is kept as hex so the caller can dead-letter or log it verbatim (frames carry
    no patient identifier, only measurements).
    """

    def __init__(self, protocol: str, reason: str, frame_hex: str) -> None:
        super().__init__(protocol, reason)
        self.frame_hex = frame_hex

    def __str__(self) -> str:
        return f"{self.protocol}: {self.reason} (frame {self.frame_hex or '<empty>'})"


class UnknownProtocolError(ProtocolError, ValueError):
    """A protocol name or characteristic the core has no decoder for."""
