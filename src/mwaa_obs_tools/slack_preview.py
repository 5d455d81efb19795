"""A Slack message's Block Kit payload drawn as an HTML page, close to how Slack shows it: for the README's picture.

Slack's own rendering cannot be had offline; this draws the blocks the notify function posted (header, sections,
fields, buttons, context) and their mrkdwn (bold, italic, code, links, Slack's three escapes). Every text is
HTML-escaped: the payload carries workflow names, errors and log lines.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

EMOJI_FAILURE = ":red_circle:"  # a failure's header starts with it (mwaa_obs.messages.slack.EMOJI)
# Drawn as dots: a headless machine rarely has a colour emoji font
EMOJI = {
    EMOJI_FAILURE: '<span class="dot" style="background:#e01e5a"></span>',
    ":large_green_circle:": '<span class="dot" style="background:#2eb67d"></span>',
    ":large_yellow_circle:": '<span class="dot" style="background:#ecb22e"></span>',
}
# ```code```, `code`, <url|label> or <url>: the spans whose insides are not mrkdwn
_SPAN = re.compile(r"```(?P<block>.*?)```|`(?P<code>[^`]*)`|<(?P<link>[^<>|]+)(?:\|(?P<label>[^<>]*))?>", re.DOTALL)
_STYLES = ((re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])"), "b"), (re.compile(r"(?<![\w_])_([^_\n]+)_(?![\w_])"), "i"))

STYLE = """
body { font: 15px/1.46 -apple-system, 'Segoe UI', 'Helvetica Neue', Arial, sans-serif; color: #1d1c1d;
       background: #fff; margin: 0; padding: 16px 20px; width: 720px; }
.message { display: flex; gap: 8px; }
.avatar { width: 36px; height: 36px; border-radius: 4px; background: #4a154b; color: #fff; font-weight: 700;
          display: flex; align-items: center; justify-content: center; flex: none; font-size: 13px; }
.who b { margin-right: 4px; } .app { font-size: 10px; background: #e8e8e8; color: #616061; padding: 1px 3px;
       border-radius: 2px; margin-right: 6px; } .when { color: #616061; font-size: 12px; }
h1 { font-size: 18px; margin: 6px 0 4px; } .section { margin: 6px 0; white-space: pre-wrap; word-break: break-word; }
.fields { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 16px; margin: 8px 0; white-space: pre-wrap; }
.with-button { display: flex; justify-content: space-between; gap: 12px; align-items: flex-start; }
.button { border: 1px solid #bbb; border-radius: 4px; padding: 3px 12px; font-weight: 700; font-size: 13px;
          white-space: nowrap; color: #1d1c1d; text-decoration: none; display: inline-block; }
.actions { display: flex; gap: 8px; margin: 8px 0; } .context { color: #616061; font-size: 12px; margin: 6px 0; }
code { font: 12px Menlo, Consolas, monospace; color: #e01e5a; background: #f6f6f6; border: 1px solid #ddd;
       border-radius: 3px; padding: 1px 3px; }
pre { font: 12px/1.5 Menlo, Consolas, monospace; background: #f8f8f8; border: 1px solid #ddd; border-radius: 4px;
      padding: 8px; margin: 4px 0; white-space: pre-wrap; word-break: break-all; }
a { color: #1264a3; text-decoration: none; }
.dot { display: inline-block; width: 16px; height: 16px; border-radius: 50%; vertical-align: -2px; }
"""


def _plain(text: str) -> str:
    """Slack's escapes undone, then escaped for HTML."""
    return html.escape(text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))


def _styled(text: str) -> str:
    out = _plain(text)
    for pattern, tag in _STYLES:
        out = pattern.sub(rf"<{tag}>\1</{tag}>", out)
    for code, emoji in EMOJI.items():
        out = out.replace(code, emoji)
    return out


def mrkdwn(text: str) -> str:
    """mrkdwn as HTML."""
    parts, at = [], 0
    for span in _SPAN.finditer(text):
        parts.append(_styled(text[at : span.start()]))
        if span["block"] is not None:
            parts.append(f"<pre>{_plain(span['block'].strip(chr(10)))}</pre>")
        elif span["code"] is not None:
            parts.append(f"<code>{_plain(span['code'])}</code>")
        else:
            href = html.escape(span["link"].replace("&amp;", "&"), quote=True)
            parts.append(f'<a href="{href}">{_plain(span["label"] or span["link"])}</a>')
        at = span.end()
    parts.append(_styled(text[at:]))
    return "".join(parts)


def _text(obj: dict[str, Any]) -> str:
    if obj["type"] == "mrkdwn":
        return mrkdwn(obj["text"])
    text = _plain(obj["text"])
    for code, emoji in EMOJI.items():
        text = text.replace(code, emoji)
    return text


def _button(element: dict[str, Any]) -> str:
    return f'<a class="button" href="{html.escape(element["url"], quote=True)}">{_text(element["text"])}</a>'


def _section(block: dict[str, Any]) -> str:
    if "fields" in block:
        return '<div class="fields">' + "".join(f"<div>{_text(field)}</div>" for field in block["fields"]) + "</div>"
    text = f'<div class="section">{_text(block["text"])}</div>'
    return f'<div class="with-button">{text}{_button(block["accessory"])}</div>' if "accessory" in block else text


_BLOCKS: dict[str, Callable[[dict[str, Any]], str]] = {
    "header": lambda block: f"<h1>{_text(block['text'])}</h1>",
    "section": _section,
    "actions": lambda block: '<div class="actions">' + "".join(map(_button, block["elements"])) + "</div>",
    "context": lambda block: '<div class="context">' + " ".join(map(_text, block["elements"])) + "</div>",
}


def _block(block: dict[str, Any]) -> str:
    draw = _BLOCKS.get(block["type"])
    return draw(block) if draw else ""  # a block kind the notifier does not send


def page(payload: dict[str, Any], sender: str = "mwaa-obs", when: str = "") -> str:
    """The whole message, with the app's name beside it, as one HTML page."""
    blocks = "\n".join(_block(block) for block in payload.get("blocks", []))
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><style>{STYLE}</style></head><body>'
        f'<div class="message"><div class="avatar">MO</div><div class="body">'
        f'<div class="who"><b>{html.escape(sender)}</b><span class="app">APP</span>'
        f'<span class="when">{html.escape(when)}</span></div>{blocks}</div></div></body></html>'
    )
