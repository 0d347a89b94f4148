"""The HTTP and WebSocket service around the engine."""

from gazeserve.server.app import create_app

__all__ = ["create_app"]
