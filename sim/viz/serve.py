"""What the dashboard's web server adds around Solara's app: a session cap, an offline notice.

Each browser tab is a Solara *kernel* holding two arms of up to a few thousand patients.
``SessionCap`` wraps Solara's ASGI app: past ``max_sessions`` live kernels, a new page
gets a short "the dashboard is full" page (HTTP 503) and a new kernel's websocket is
closed (code 1013, try again later); a tab already open keeps working. Closed tabs stop
counting when Solara culls their kernel, after ``CULL_TIMEOUT`` (Solara's own default,
24 h, let 20 closed tabs at 20,000 patients hold 2.2 GB).

``AssetNotice`` puts a hidden message at the top of the page. Solara's JavaScript and CSS
come from its asset cache, filled from a CDN on first use; on an offline classroom
machine whose cache is empty they fail to load and the page would stay blank. A tiny
script shows the message (what to run, where the files go) as soon as one of them fails.
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
        """Refuse a kernel websocket beyond the session limit; pass everything else on."""
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


BODY = re.compile(rb"<body[^>]*>", re.IGNORECASE)


def notice_html(missing: list[str], cache_dir: str) -> str:
    """The hidden message, and the script that shows it when a page asset fails to load."""
    what = f" ({escape(', '.join(missing))})" if missing else ""
    return (
        '<div id="ps-assets-missing" role="alert" style="display: none; font: 20px/1.45 '
        'sans-serif; margin: 2em; padding: 1em 1.4em; border: 3px solid #c0392b; '
        'border-radius: 8px; background: #fff4f2; color: #1d1d1f; max-width: 48em; '
        'position: relative; z-index: 10000">'
        '<h1 style="font-size: 28px; margin: 0 0 .5em 0">The dashboard cannot load its page '
        'files</h1><p>The page needs JavaScript and style files' + what + ' that the '
        "dashboard's server downloads from the internet the first time. They are not "
        "installed on the computer running the dashboard, and it cannot reach the internet."
        '</p><p style="margin-top: .6em">On that computer, while it has internet, stop the '
        'dashboard (Ctrl+C) and install them with pip, with the Solara version they match:</p>'
        '<pre style="font-size: 20px; background: #fff; padding: .4em .8em">'
        "pip install 'peersupport[dashboard]'</pre><p>With another Solara version, run "
        "<code>peersupport dashboard --fetch-assets</code> once instead (it needs Node.js's "
        '<code>npm</code>). The files are kept in <code>' + escape(cache_dir) + '</code>: '
        'copying that folder from a computer that has them works too. Then start the '
        'dashboard again and reload this page.</p></div>'
        "<script>(function () {"
        "  window.addEventListener('error', function (e) {"
        "    var t = e.target, url = t && (t.src || t.href);"
        "    if (url && String(url).indexOf('/_solara/cdn/') >= 0) {"
        "      document.getElementById('ps-assets-missing').style.display = 'block';"
        "    }"
        "  }, true);"
        "})();</script>")


class AssetNotice:
    """ASGI wrapper adding ``notice`` (HTML) right after ``<body>`` of the page at "/".

    The page is asked for uncompressed (no ``accept-encoding``) so the notice can be
    inserted; it is a few tens of kilobytes, once per tab.
    """

    def __init__(self, app: Callable[..., Awaitable[None]], notice: str) -> None:
        self.app = app
        self.notice = notice.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the notice to the dashboard page (GET /); pass everything else on."""
        if not (scope["type"] == "http" and scope.get("path") == "/"
                and scope.get("method") == "GET"):
            await self.app(scope, receive, send)
            return
        scope = {**scope, "headers": [(k, v) for k, v in scope.get("headers", [])
                                      if k.lower() != b"accept-encoding"]}
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            headers = [(k, v) for k, v in start.get("headers", [])
                       if k.lower() != b"content-length"]
            if dict(headers).get(b"content-type", b"").startswith(b"text/html") \
                    and (found := BODY.search(body)):
                body = body[:found.end()] + self.notice + body[found.end():]
            await send({**start, "headers": [*headers,
                                             (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)
