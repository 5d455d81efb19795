"""A task's log tail: Airflow 3's records made readable, bounded, with the traceback's end kept, secrets masked; and
how each channel shows it (escaped, forged-line-proof)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import boto3
from botocore.stub import ANY, Stubber
from hypothesis import given
from hypothesis import strategies as st

from mwaa_obs.messages.chatbot import chatbot_notification
from mwaa_obs.messages.email import LOG_GUTTER, email_text
from mwaa_obs.messages.slack import TEXT_LIMIT, slack_message
from mwaa_obs.task_logs import (
    MAX_BYTES,
    MAX_LINES,
    NOT_WRITTEN,
    TAIL_PAGES,
    LogRef,
    LogTail,
    TaskLogReader,
    excerpt,
    readable,
)
from tests.unit.test_messages import INJECTION, an_alert, texts

TRACEBACK: dict[str, Any] = {
    "level": "error",
    "event": "Task failed with exception",
    "error_detail": [
        {
            "exc_type": "KeyError",
            "exc_value": "'id'",
            "frames": [
                {"filename": "/usr/local/airflow/sdk/task_runner.py", "lineno": 838, "name": "run"},
                {"filename": "/usr/local/airflow/dags/etl.py", "lineno": 12, "name": "load"},
            ],
        },
        {"exc_type": "ValueError", "exc_value": "bad row", "frames": [{"filename": "x.py", "lineno": 3, "name": "f"}]},
    ],
}


def record(**fields: Any) -> str:
    return json.dumps({"timestamp": "2026-12-05T06:00:00Z", "logger": "task", **fields})


def test_an_airflow_3_record_reads_as_airflows_text_view_with_a_python_traceback() -> None:
    assert readable(record(level="info", event="Task instance is in running state")) == [
        "INFO - Task instance is in running state"
    ]
    assert readable(record(**TRACEBACK)) == [
        "ERROR - Task failed with exception",
        "Traceback (most recent call last):",
        '  File "x.py", line 3, in f',
        "ValueError: bad row",
        "",
        "The above exception was the direct cause of the following exception:",
        "",
        "Traceback (most recent call last):",
        '  File "/usr/local/airflow/sdk/task_runner.py", line 838, in run',
        '  File "/usr/local/airflow/dags/etl.py", line 12, in load',
        "KeyError: 'id'",
    ]
    # anything else as it is, without terminal colours
    assert readable("\x1b[31mplain\x1b[0m line\nsecond") == ["plain line", "second"]
    assert readable('{"not": "a record"}') == ['{"not": "a record"}']


def test_the_traceback_end_is_kept_even_far_from_the_logs_end() -> None:
    lines = [record(level="info", event=f"batch {n}") for n in range(30)]
    lines += [record(**TRACEBACK)] + [record(level="info", event=f"after {n}") for n in range(30)]
    shown = excerpt(lines)
    text = "\n".join(shown)
    assert "  File \"/usr/local/airflow/dags/etl.py\", line 12, in load\nKeyError: 'id'" in text
    assert shown[-1] == "INFO - after 29"
    assert "batch 0" not in text
    assert shown[0].startswith("[… ")
    assert shown[0].endswith(" lines …]")


def test_a_plain_text_traceback_one_line_per_event_keeps_its_last_frame_and_exception() -> None:
    lines = ["[2026-12-05 06:00:00] INFO - starting", "Traceback (most recent call last):"]
    lines += [f'  File "/dags/step{n}.py", line {n}, in step{n}' for n in range(40)]
    lines += ["    raise KeyError(key)", "KeyError: 'id'"] + [f"INFO - cleanup {n}" for n in range(25)]
    text = "\n".join(excerpt(lines))
    assert "  File \"/dags/step39.py\", line 39, in step39\n    raise KeyError(key)\nKeyError: 'id'" in text
    assert "step0.py" not in text


def test_an_exception_too_long_for_the_budget_is_cut_not_dropped() -> None:
    huge = {**TRACEBACK, "error_detail": [{**TRACEBACK["error_detail"][0], "exc_value": "x" * 10_000}]}
    shown = excerpt([record(**huge), record(level="info", event="after")])
    text = "\n".join(shown)
    assert "KeyError: xxx" in text
    assert "…[truncated]" in text
    assert len(text.encode()) <= MAX_BYTES + 100  # the budget, and at most a few gap marks beside it


def test_a_secret_is_masked_before_a_line_is_cut() -> None:
    # the access key straddles the 300th character, where a long line is cut
    line = "x" * 290 + " AKIAIOSFODNN7EXAMPLE " + "y" * 100
    assert "AKIAIOSF" not in "\n".join(excerpt([line]))


@given(st.lists(st.text(max_size=600), max_size=80))
def test_whatever_the_log_the_tail_keeps_its_bounds(messages: list[str]) -> None:
    shown = excerpt(messages)
    log_lines = [line for line in shown if not (line.startswith("[… ") and line.endswith(" …]"))]
    assert len(log_lines) <= MAX_LINES
    assert sum(len(line.encode()) + 1 for line in log_lines) <= MAX_BYTES
    assert len(shown) <= 2 * MAX_LINES + 1  # a gap mark at most between two lines shown


class Refusing:
    def get_log_events(self, **_: Any) -> dict[str, Any]:
        raise AssertionError("no read when there is no time for it")


def test_no_time_left_means_no_read() -> None:
    reader = TaskLogReader(lambda _: Refusing())
    (tail,) = reader.tails([LogRef("/aws/mwaa-serverless/x/", "s")], within=0.0)
    assert tail == LogTail(note="no time left to read it")
    assert reader.calls == 0


STREAM = LogRef("/aws/mwaa-serverless/etl-Ab3dE6gH9j/", "workflow_id=etl/run_id=r1/task_id=load/attempt=1.log")


def paged_logs(pages: list[tuple[list[str], str]]) -> tuple[Any, Stubber]:
    """A CloudWatch Logs client answering GetLogEvents backwards with these pages (messages, nextBackwardToken): the
    partial and empty pages CloudWatch may answer before a stream's end, which the emulator never does."""
    client = boto3.client("logs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    token = None
    for messages, backward in pages:
        params: dict[str, Any] = {
            "logGroupName": STREAM.group,
            "logStreamName": STREAM.stream,
            "startFromHead": False,
            "limit": ANY,
        }
        if token is not None:
            params["nextToken"] = token
        events = [{"timestamp": 1, "message": message, "ingestionTime": 1} for message in messages]
        answer = {"events": events, "nextBackwardToken": backward, "nextForwardToken": "f/1"}
        stubber.add_response("get_log_events", answer, params)
        token = backward
    stubber.activate()
    return client, stubber


def test_a_short_or_empty_first_page_does_not_lose_the_traceback() -> None:
    # Given CloudWatch answering an empty page, then the exception, then the traceback's start
    client, stubber = paged_logs(
        [
            ([], "b/2"),
            (['  File "/dags/etl.py", line 12, in load', "KeyError: 'id'"], "b/1"),
            (["Traceback (most recent call last):"], "b/0"),
        ]
    )
    reader = TaskLogReader(lambda _: client)
    # When the tail is read
    tail = reader.tail(STREAM)
    # Then it holds the whole traceback, read in the pages allowed
    assert tail.lines[-1] == "KeyError: 'id'"
    assert tail.lines[0] == "Traceback (most recent call last):"
    assert reader.calls == TAIL_PAGES == 3
    stubber.assert_no_pending_responses()


def test_the_reading_stops_at_the_streams_start_and_within_its_page_bound() -> None:
    # At the stream's start CloudWatch answers the token it was given again: nothing more is asked
    client, _ = paged_logs([(["one"], "b/1"), ([], "b/1")])
    reader = TaskLogReader(lambda _: client)
    assert reader.tail(STREAM).lines == ("one",)
    assert reader.calls == 2
    # A stream that keeps answering empty pages costs TAIL_PAGES calls and reads as not written yet
    client, _ = paged_logs([([], f"b/{page}") for page in range(TAIL_PAGES + 2)])
    reader = TaskLogReader(lambda _: client)
    assert reader.tail(STREAM) == LogTail(note=NOT_WRITTEN)
    assert reader.calls == TAIL_PAGES


def with_tail(lines: tuple[str, ...] = (), note: str | None = None, **changes: Any) -> Any:
    alert = an_alert(**changes)
    task = replace(alert.failed_tasks[0], log_tail=LogTail(lines, note))
    return replace(alert, failed_tasks=(task,))


def test_log_lines_cannot_ping_link_or_close_their_code_block_in_slack() -> None:
    alert = with_tail((INJECTION, "```", "<https://evil.example|x>", "@channel please"))
    shown = [text for text in texts(slack_message(alert)) if "Last log lines" in text]
    (block,) = shown
    assert block.count("```") == 2  # its own fence only
    for raw in ("<!channel>", "<https://evil", "@here", "@channel"):
        assert raw not in block
    assert len(block) <= TEXT_LIMIT


def test_log_lines_cannot_pass_for_lines_of_the_email() -> None:
    forged = ("Run:       someone-elses-run", "MWAA Serverless console: https://evil.example", "Subject: hi\x1b[2J")
    body = email_text(with_tail(forged))
    for line in forged:
        assert "\n" + line not in body  # never at the start of a line of the message
    assert f"\n{LOG_GUTTER}Run:       someone-elses-run" in body
    assert "\x1b" not in body


def test_a_tail_that_could_not_be_read_is_said_in_every_channel() -> None:
    alert = with_tail(note="not readable (AccessDeniedException)")
    note = "Log not shown (not readable (AccessDeniedException)): open it with the task log link."
    assert any(note in text for text in texts(slack_message(alert)))
    assert note in email_text(alert)
    assert "Last log lines" not in email_text(alert)
    assert "```" not in chatbot_notification(alert)["content"]["description"].split("task log>")[1]


def test_amazon_q_shows_the_first_tasks_tail_in_its_limits() -> None:
    long = tuple(f"line {n} " + "<" * 200 for n in range(20))
    description = chatbot_notification(with_tail(long))["content"]["description"]
    assert description.count("```") == 4  # the run error's block and the tail's
    assert "line 0 &lt;&lt;" in description  # cut to fit, from its start: never emptied
    assert len(description) <= 8000
