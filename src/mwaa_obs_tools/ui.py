"""`mwaa-obs ui`: the runs widget's views served on loopback, for the local stack (or a deployed table).

The same code renders them as the CloudWatch custom widget (mwaa_obs.widget); only the navigation differs: plain
links here, where the dashboard has `<cwdb-action>` pop-ups. A page is the widget's HTML inside a small frame with a
workflow picker.
"""

from __future__ import annotations

import html
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

from mwaa_obs.events import Place, workflow_name_of
from mwaa_obs.metrics import Policies
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.workflows import Workflows
from mwaa_obs.task_logs import TaskLogReader, logs_config
from mwaa_obs.view_html import Viewer, action_question
from mwaa_obs.widget import LOG_VIEW_BYTES, LOG_VIEW_EVENTS, LOG_VIEW_LINES, ViewReader, render
from mwaa_obs.widget_request import DEFAULT_RANGE, RequestError, ViewRequest

KEPT_PARAMETERS = ("theme", "hours")  # carried from page to page
ACTION_PARAMETERS = ("action", "workflowId", "runId")  # a button's request to the actions function
MAX_FORM_BYTES = 4096
MAX_HOURS = 24 * 366
# The names this server answers to. Any other Host is a page elsewhere reaching it by DNS rebinding (a name of its
# own resolved to 127.0.0.1), to read with the user's credentials what the pages show or act on them.
LOOPBACK_NAMES = ("localhost", "127.0.0.1")


@dataclass(frozen=True, slots=True)
class LocalNavigation:
    carried: Mapping[str, str]

    acts: bool = False  # whether the page can re-run and stop (a way to the actions is given)

    def link(self, label_html: str, params: Mapping[str, str], title: str) -> str:
        query = urlencode({**params, **self.carried})
        return f'<a href="/view?{html.escape(query)}" title="{html.escape(title)}">{label_html}</a>'

    def action(self, label: str, params: Mapping[str, str], confirmation: str) -> str:
        """A link to a page that asks `confirmation` first, as CloudWatch asks before it calls the function."""
        if not self.acts:
            return ""
        query = urlencode({**params, **self.carried})  # the question is asked again from these, never carried
        action = html.escape(params.get("action", ""))
        return f'<a class="btn" data-action="{action}" href="/confirm?{html.escape(query)}">{html.escape(label)}</a>'


@dataclass(frozen=True, slots=True)
class Site:
    runs: Runs
    workflows: Workflows
    region: str
    stack_name: str
    now: Callable[[], datetime]  # the stack's clock: the simulator's on the local stack
    policies: Policies  # each workflow's too-slow threshold, from the stack's settings (drawn on its charts)
    # The actions function's answer to a button's request (its JSON body as a dict); None: no buttons
    act: Callable[[Mapping[str, str]], str] | None = None
    logs: TaskLogReader | None = None  # a log view's reads (None: it links to CloudWatch only)
    team_of: Callable[[str], str] | None = None  # a workflow's team, for the matrix (the stack's settings)

    def page(self, path: str, query: Mapping[str, str]) -> tuple[int, str]:
        """The status and HTML of one page: `/` (the workflow picker and the failures), `/view?view=...`, or
        `/confirm?action=...` (the question CloudWatch asks before a button calls the actions function)."""
        now = self.now()
        theme = "dark" if query.get("theme") == "dark" else "light"
        if path == "/confirm" and self.act is not None:
            return 200, self._frame(_confirmation(query, theme), theme, query)
        try:
            hours = float(query.get("hours") or DEFAULT_RANGE.total_seconds() / 3600)
        except ValueError:
            hours = math.nan
        if not 0 < hours <= MAX_HOURS:  # NaN, infinities and 1e300 too: the range must be a date
            return 400, self._frame(f"<p>hours must be a number above 0, at most {MAX_HOURS}</p>", theme, query)
        params = dict(query) if path == "/view" else {"view": "failures"}
        if path not in ("/", "/view"):
            return 404, self._frame("<p>No such page.</p>", theme, query)
        try:
            request = ViewRequest.of(params, now - timedelta(hours=hours), now, theme)
        except RequestError as error:
            return 400, self._frame(f"<p>{html.escape(str(error))}</p>", theme, query)
        reader = ViewReader(self.runs, self.workflows, self.logs, team_of=self.team_of)
        carried = {key: query[key] for key in KEPT_PARAMETERS if key in query}
        viewer = Viewer(self.region, self.stack_name, theme)
        body = render(
            request, reader, LocalNavigation(carried, acts=self.act is not None), viewer, now, policies=self.policies
        )
        return 200, self._frame(body, theme, query)

    def action(self, form: Mapping[str, str]) -> tuple[int, str]:
        """A confirmed button press: the actions function's answer, in the page (CloudWatch shows it in a pop-up)."""
        theme = "dark" if form.get("theme") == "dark" else "light"
        if self.act is None:
            return 404, self._frame("<p>No such page.</p>", theme, form)
        request = {key: form.get(key, "") for key in ACTION_PARAMETERS}
        return 200, self._frame(self.act(request), theme, form)

    def _frame(self, body: str, theme: str, query: Mapping[str, str]) -> str:
        names = sorted({item.workflow_name for item in self.workflows.all()})
        chosen = query.get("workflow")
        options = "".join(
            f'<option value="{html.escape(name)}"{" selected" if name == chosen else ""}>{html.escape(name)}</option>'
            for name in names
        )
        picker = (
            '<form method="get" action="/view" id="picker">'
            f'<select name="workflow" aria-label="workflow">{options}</select> '
            f'<input type="hidden" name="theme" value="{html.escape(theme)}">'
            '<button type="submit" name="view" value="grid">grid</button> '
            '<button type="submit" name="view" value="graph">graph</button> '
            '<button type="submit" name="view" value="charts">charts</button> '
            '<a href="/">failures</a> <a href="/view?view=matrix">matrix</a></form>'
        )
        background = "#1b232d" if theme == "dark" else "#fff"
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>mwaa-obs runs</title></head>'
            f'<body style="margin:8px;background:{background}">{picker}{body}</body></html>'
        )


def _confirmation(query: Mapping[str, str], theme: str) -> str:
    """The question and a Confirm button posting the request to /action; Cancel goes back."""
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(query.get(name, ""))}">'
        for name in (*ACTION_PARAMETERS, "theme")
    )
    workflow = workflow_name_of(query.get("workflowId", ""))
    back = urlencode({"view": "gantt", "workflow": workflow, "runId": query.get("runId", "")})
    # Built from what Confirm sends, never read from the link: a link from elsewhere cannot put a harmless question
    # above a Stop of another run
    question = action_question(query.get("action", ""), workflow, query.get("runId", ""))
    if question is None:
        return "<p>No such action.</p>"
    return (
        f'<p id="question">{html.escape(question)}</p>'
        f'<form method="post" action="/action">{hidden}<button type="submit" id="confirm">Confirm</button> '
        f'<a href="/view?{html.escape(back)}&amp;theme={html.escape(theme)}">Cancel</a></form>'
    )


class _Handler(BaseHTTPRequestHandler):
    site: Site

    def do_POST(self) -> None:
        if not self._addressed_here(posted=True):
            self._send(403, "<p>This page answers only at localhost, to its own pages.</p>")
            return
        parts = urlsplit(self.path)
        length = min(int(self.headers.get("Content-Length") or 0), MAX_FORM_BYTES)
        form = dict(parse_qsl(self.rfile.read(length).decode("utf-8", "replace")))
        status, body = self.site.action(form) if parts.path == "/action" else (404, "No such page.")
        self._send(status, body)

    def do_GET(self) -> None:
        if not self._addressed_here():
            self._send(403, "<p>This page answers only at localhost.</p>")
            return
        parts = urlsplit(self.path)
        status, body = self.site.page(parts.path, dict(parse_qsl(parts.query)))
        self._send(status, body)

    def _addressed_here(self, *, posted: bool = False) -> bool:
        """The request names this server as the user's browser does (Host), and a form posted to it comes from its
        own pages (Origin): a page elsewhere could otherwise post a Re-run or Stop with the user's credentials (the
        browser sends the Origin of every POST: https://fetch.spec.whatwg.org/#origin-header)."""
        port = self.connection.getsockname()[1]  # the port the request came in on: this server's
        if self.headers.get("Host") not in {f"{name}:{port}" for name in LOOPBACK_NAMES}:
            return False
        return not posted or self.headers.get("Origin") in {f"http://{name}:{port}" for name in LOOPBACK_NAMES}

    def _send(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a page per click is not news."""


def log_reader(endpoint_url: str | None) -> TaskLogReader:
    """The log view's reads, with the caller's credentials, in each workflow's region (the default one's client
    where a run's region is not known), bounded as the widget's."""
    import boto3  # noqa: PLC0415

    clients: dict[str | None, object] = {}

    def client_for(place: Place | None) -> object:
        region = place.region if place is not None else None
        if region not in clients:
            session = boto3.session.Session()
            clients[region] = session.client(
                "logs", endpoint_url=endpoint_url, region_name=region, config=logs_config()
            )
        return clients[region]

    return TaskLogReader(client_for, events=LOG_VIEW_EVENTS, max_lines=LOG_VIEW_LINES, max_bytes=LOG_VIEW_BYTES)


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
