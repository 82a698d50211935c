"""What the dashboard's web server adds around Solara's app: a cap on sessions.

Each browser tab is a Solara *kernel* holding two arms of up to a few thousand patients.
``SessionCap`` wraps Solara's ASGI app: past ``max_sessions`` live kernels, a new page
gets a short "the dashboard is full" page (HTTP 503) and a new kernel's websocket is
closed (code 1013, try again later); a tab already open keeps working. Closed tabs stop
counting when Solara culls their kernel, after ``CULL_TIMEOUT`` (Solara's own default,
24 h, let 20 closed tabs at 20,000 patients hold 2.2 GB).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from html import escape
from typing import Any

CULL_TIMEOUT = "3m"
"""Solara's ``kernel.cull_timeout`` (``SOLARA_KERNEL_CULL_TIMEOUT``): how long a closed or
disconnected tab's session is kept for a reconnect."""

MAX_SESSIONS = 40
"""Default cap on live sessions (open tabs): a class, with room for reloads."""

KERNEL_SOCKET = re.compile(r"^/jupyter/api/kernels/(?P<id>[^/]+)/[^/]+$")
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def full_page(max_sessions: int) -> bytes:
    """The page a browser gets when the dashboard already serves ``max_sessions`` tabs."""
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Dashboard full</title></head>"
        "<body style='font-family: sans-serif; font-size: 20px; margin: 3em; max-width: 40em'>"
        "<h1>The dashboard is full</h1>"
        f"<p>It already serves {escape(str(max_sessions))} open pages, its limit. Close "
        "a tab you no longer use (a closed tab frees its place within a few minutes) and "
        "reload this page.</p><p>Teacher: start it with a higher "
        "<code>--max-sessions</code> if the class needs more.</p></body></html>"
    ).encode()


class SessionCap:
    """ASGI wrapper refusing new sessions past ``max_sessions`` live kernels.

    Args:
        app: Solara's ASGI app.
        max_sessions: the cap.
        kernels: the live kernels by id (Solara's ``kernel_context.contexts``).
    """

    def __init__(self, app: Callable[..., Awaitable[None]], max_sessions: int,
                 kernels: Mapping[str, Any]) -> None:
        self.app = app
        self.max_sessions = max_sessions
        self.kernels = kernels

    def full(self, kernel_id: str | None = None) -> bool:
        """Whether a new session (or kernel ``kernel_id``, if not live) must be refused."""
        return kernel_id not in self.kernels and len(self.kernels) >= self.max_sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            found = KERNEL_SOCKET.match(scope.get("path", ""))
            if found and self.full(found["id"]):
                await receive()  # the client's websocket.connect
                await send({"type": "websocket.close", "code": 1013,
                            "reason": "dashboard full"})
                return
        elif scope["type"] == "http" and scope.get("path") == "/" and self.full():
            body = full_page(self.max_sessions)
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                    (b"content-length", str(len(body)).encode()),
                                    (b"retry-after", b"60")]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
