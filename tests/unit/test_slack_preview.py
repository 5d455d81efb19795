"""The README's Slack picture is drawn from the payload the notifier sends: every text of it shown, none as HTML."""

from __future__ import annotations

from dataclasses import replace
from html.parser import HTMLParser

from mwaa_obs.messages.model import FailedTask
from mwaa_obs.messages.slack import slack_message
from mwaa_obs_tools import slack_preview
from tests.unit.test_messages import INJECTION, an_alert


class _Page(HTMLParser):
    """The text a browser shows and the tags and links it builds."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links.extend(value or "" for name, value in attrs if tag == "a" and name == "href")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _shown(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def test_hostile_text_is_shown_as_text_and_builds_no_tag() -> None:
    task = FailedTask("load<script>alert(1)</script>", 1, "FAILED", "Op", INJECTION, "https://console.aws.amazon.com/x")
    payload = slack_message(replace(an_alert(), workflow_name="<b>sales</b>", failed_tasks=(task,)))
    page = _shown(slack_preview.page(payload))
    shown = "".join(page.text).replace("\u200b", "")  # the notifier breaks @here with a zero-width space
    assert "load<script>alert(1)</script>" in shown
    assert "<b>sales</b>" in shown
    assert "<!channel> @here <https://evil.example|click> & <@U123>" in shown
    assert "script" not in page.tags
    assert "https://evil.example" not in page.links  # escaped by the notifier, so never a link
    assert set(page.tags) <= {
        "html",
        "head",
        "meta",
        "style",
        "body",
        "div",
        "span",
        "b",
        "i",
        "h1",
        "a",
        "code",
        "pre",
    }


def test_every_block_of_a_failure_is_drawn() -> None:
    payload = slack_message(an_alert())
    page = _shown(slack_preview.page(payload))
    shown = " ".join(page.text)
    for expected in (
        "sales failed at load_sales: AccessDenied",
        "load_sales",
        "AccessDenied: s3://bucket/key",
        "Task log",
        "mwaa-obs runs show",
    ):
        assert expected in shown
    buttons = [
        element["url"] for block in payload["blocks"] for element in block.get("elements", []) if "url" in element
    ]
    assert set(buttons) <= set(page.links)


def test_mrkdwn_links_bold_and_code() -> None:
    html = slack_preview.mrkdwn("*bold* _it_ `x<y` <https://a.example/?q=1&amp;r=2|the &lt;label&gt;>")
    assert html == (
        '<b>bold</b> <i>it</i> <code>x&lt;y</code> <a href="https://a.example/?q=1&amp;r=2">the &lt;label&gt;</a>'
    )
