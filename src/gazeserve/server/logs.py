"""Logs never carry a person's frames or landmarks, nor an API key, at any level.

At DEBUG the `websockets` protocol (under uvicorn, logger `uvicorn.error`) logs every WebSocket
frame with the start of its payload (the first bytes of an image, the text of a `landmarks` or
`auth` message) and every header of the handshake (an `Authorization` key among them).
`RedactFrames` replaces those payloads with their size and kind, and those headers' values with
`<redacted>`; everything else of those loggers passes unchanged.
"""

from __future__ import annotations

import logging

WEBSOCKET_FRAME_FORMATS = frozenset({"< %s", "> %s"})
"""How `websockets.protocol.Protocol` logs a frame received or sent."""
WEBSOCKET_HEADER_FORMATS = frozenset({"< %s: %s", "> %s: %s"})
"""How `websockets` logs a handshake header."""
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "cookie", "set-cookie",
                            "proxy-authorization", "sec-websocket-protocol"})
WEBSOCKET_LOGGERS = ("uvicorn.error", "websockets", "websockets.server", "websockets.protocol")


class RedactFrames(logging.Filter):
    """Keeps a WebSocket frame's opcode and length in the log, never its payload."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (record.msg in WEBSOCKET_HEADER_FORMATS and isinstance(record.args, tuple)
                and len(record.args) == 2 and str(record.args[0]).lower() in SECRET_HEADERS):
            record.args = (record.args[0], "<redacted>")
        elif record.msg in WEBSOCKET_FRAME_FORMATS and record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            frame = args[0]
            opcode = getattr(getattr(frame, "opcode", None), "name", "frame")
            size = len(getattr(frame, "data", b""))
            record.msg = f"{record.msg[0]} %s [%d bytes, payload not logged]"
            record.args = (opcode, size)
        return True


_FILTER = RedactFrames()


def install_log_redaction() -> None:
    """Adds the filter to the loggers that log WebSocket frames (idempotent)."""
    for name in WEBSOCKET_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
