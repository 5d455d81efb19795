"""`mwaa-obs ui`: the runs widget's views served on loopback, for the local stack (or a deployed table).

The same code renders them as the CloudWatch custom widget (mwaa_obs.widget); only the navigation differs: plain
links here, where the dashboard has `<cwdb-action>` pop-ups. A page is the widget's HTML inside a small frame with a
workflow picker.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

from mwaa_obs.store.runs import Runs
from mwaa_obs.store.workflows import Workflows
from mwaa_obs.view_html import Viewer
from mwaa_obs.widget import DEFAULT_RANGE, RequestError, ViewReader, ViewRequest, render

KEPT_PARAMETERS = ("theme", "hours")  # carried from page to page


@dataclass(frozen=True, slots=True)
class LocalNavigation:
    carried: Mapping[str, str]

    def link(self, label_html: str, params: Mapping[str, str], title: str) -> str:
        query = urlencode({**params, **self.carried})
        return f'<a href="/view?{html.escape(query)}" title="{html.escape(title)}">{label_html}</a>'


@dataclass(frozen=True, slots=True)
class Site:
    runs: Runs
    workflows: Workflows
    region: str
    stack_name: str
    now: Callable[[], datetime]  # the stack's clock: the simulator's on the local stack

    def page(self, path: str, query: Mapping[str, str]) -> tuple[int, str]:
        """The status and HTML of one page: `/` (the workflow picker and the failures) or `/view?view=...`."""
        now = self.now()
        theme = "dark" if query.get("theme") == "dark" else "light"
        try:
            hours = float(query.get("hours") or DEFAULT_RANGE.total_seconds() / 3600)
        except ValueError:
            return 400, self._frame("<p>hours must be a number</p>", theme, query)
        params = dict(query) if path == "/view" else {"view": "failures"}
        if path not in ("/", "/view"):
            return 404, self._frame("<p>No such page.</p>", theme, query)
        try:
            request = ViewRequest.of(params, now - timedelta(hours=hours), now, theme)
        except RequestError as error:
            return 400, self._frame(f"<p>{html.escape(str(error))}</p>", theme, query)
        reader = ViewReader(self.runs, self.workflows)
        carried = {key: query[key] for key in KEPT_PARAMETERS if key in query}
        viewer = Viewer(self.region, self.stack_name, theme)
        body = render(request, reader, LocalNavigation(carried), viewer, now)
        return 200, self._frame(body, theme, query)

    def _frame(self, body: str, theme: str, query: Mapping[str, str]) -> str:
        names = sorted({item.workflow_name for item in self.workflows.all()})
        chosen = query.get("workflow")
        options = "".join(
            f'<option value="{html.escape(name)}"{" selected" if name == chosen else ""}>{html.escape(name)}</option>'
            for name in names
        )
        picker = (
            '<form method="get" action="/view" id="picker"><input type="hidden" name="view" value="grid">'
            f'<select name="workflow" aria-label="workflow">{options}</select> '
            f'<input type="hidden" name="theme" value="{html.escape(theme)}"><button type="submit">grid</button> '
            '<a href="/">failures</a></form>'
        )
        background = "#1b232d" if theme == "dark" else "#fff"
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>mwaa-obs runs</title></head>'
            f'<body style="margin:8px;background:{background}">{picker}{body}</body></html>'
        )


class _Handler(BaseHTTPRequestHandler):
    site: Site

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        status, body = self.site.page(parts.path, dict(parse_qsl(parts.query)))
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a page per click is not news."""


class UiServer:
    """The pages on 127.0.0.1:<port> (0: any free port), served from a thread until stop()."""

    def __init__(self, site: Site, port: int = 0) -> None:
        handler = type("Handler", (_Handler,), {"site": site})
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://localhost:{self._server.server_address[1]}"

    def start(self) -> UiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
