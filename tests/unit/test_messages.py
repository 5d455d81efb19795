"""Rendered messages: escaping of untrusted text, Slack and SNS limits, links, and the readable email body."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from mwaa_obs.alerting import AlertKind
from mwaa_obs.links import log_stream_url
from mwaa_obs.messages.email import email_text, subject
from mwaa_obs.messages.model import Alert, FailedTask, NamedRun
from mwaa_obs.messages.slack import slack_message
from mwaa_obs.messages.sns import sns_attributes, sns_message
from mwaa_obs.messages.untrusted import INLINE_BACKTICK, escape_mrkdwn, fit_mrkdwn
from mwaa_obs.text import TRUNCATION_MARK
from mwaa_obs_tools.factories import T0, minutes

INJECTION = "<!channel> @here <https://evil.example|click> & <@U123> ``` done"


def an_alert(**changes: Any) -> Alert:
    task = FailedTask(
        "load_sales",
        2,
        "FAILED",
        "S3CopyObjectOperator",
        "AccessDenied: s3://bucket/key",
        log_stream_url(
            "us-east-1", "/aws/mwaa-serverless/sales-Ab3dE6gH9j/", "workflow_id=x/run_id=r/task_id=t/attempt=2.log"
        ),
    )
    alert = Alert(
        kind=AlertKind.FAILURE,
        workflow_name="sales",
        workflow_id="sales-Ab3dE6gH9j",
        workflow_arn="arn:aws:airflow-serverless:us-east-1:123456789012:workflow/sales-Ab3dE6gH9j",
        region="us-east-1",
        run_id="scheduled__2026-11-24T00:00:00+00:00",
        status="FAILED",
        run_type="SCHEDULED",
        started_at=T0,
        ended_at=T0 + minutes(12.5),
        error_message="Workflow execution failed",
        failed_tasks=(task,),
        failed_runs=1,
        failing_since=T0 + minutes(12.5),
        team="sales-analytics",
    )
    return replace(alert, **changes)


def texts(payload: dict[str, Any]) -> list[str]:
    """Every string Slack would render as mrkdwn or plain text."""
    found: list[str] = [payload["text"]]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text"):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(payload["blocks"])
    return found


def test_untrusted_text_cannot_ping_link_or_break_out_of_code_in_slack() -> None:
    # Given an alert whose error message, task id and run id carry Slack control sequences
    task = FailedTask(INJECTION, 1, "FAILED", INJECTION, INJECTION, "https://example.com/log")
    alert = an_alert(run_id=INJECTION, error_message=INJECTION, failed_tasks=(task,))
    # When it is rendered for Slack
    payload = slack_message(alert)
    # Then no rendered text holds a raw angle bracket from the input, and broadcasts are broken
    for text in texts(payload):
        assert "<!channel>" not in text
        assert "<https://evil" not in text
        assert "<@U123>" not in text
        assert "@here" not in text
    rendered = json.dumps(payload)
    assert "&lt;!channel&gt;" in rendered
    assert "&amp;" in rendered
    # And every mrkdwn text object is verbatim (no automatic link or mention parsing)
    sections = [block["text"] for block in payload["blocks"] if block["type"] == "section" and "text" in block]
    assert sections
    assert all(text["verbatim"] is True for text in sections)
    # And a code block cannot be closed from inside it: no run of three backticks in the error body
    error_block = next(text["text"] for text in sections if text["text"].startswith("*Run error*"))
    assert error_block.count("```") == 2


def test_a_backtick_in_a_run_id_or_operator_cannot_end_its_inline_code() -> None:
    run_id, operator = "run`*bold*`x", "My`Operator"
    task = FailedTask("load", 1, "FAILED", operator, "boom", "https://example.com/log")
    payload = slack_message(an_alert(run_id=run_id, failed_tasks=(task,)))
    lead = next(text for text in texts(payload) if " ended in " in text)
    # The run id is one code span, its backticks shown as look-alikes that do not end it
    assert f"`{run_id.replace('`', INLINE_BACKTICK)}`" in lead
    assert lead.count("`") == 2
    title = next(text for text in texts(payload) if text.startswith("*load*"))
    assert title.splitlines()[0].endswith(f"`My{INLINE_BACKTICK}Operator`")
    command = next(text for text in texts(payload) if text.startswith("`mwaa-obs runs show"))
    assert command.count("`") == 2


def test_the_mention_from_settings_is_kept_but_only_on_failures() -> None:
    failure = slack_message(an_alert(mention="<!subteam^S0123>"))
    assert any(text.startswith("<!subteam^S0123> ") for text in texts(failure))
    recovery = slack_message(an_alert(kind=AlertKind.RECOVERY, mention="<!subteam^S0123>"))
    assert not any("subteam" in text for text in texts(recovery))


def test_slack_limits_hold_for_huge_inputs() -> None:
    # Given 40 failed tasks with 4,000-character errors full of characters that grow when escaped
    tasks = tuple(
        FailedTask(f"task_{n}" * 30, n, "FAILED", "Op" * 100, "<&>" * 1400, "https://example.com/" + "x" * 100)
        for n in range(40)
    )
    alert = an_alert(workflow_name="w" * 250, error_message="&" * 4000, failed_tasks=tasks, run_id="r" * 500)
    payload = slack_message(alert)
    blocks = payload["blocks"]
    assert len(blocks) <= 50
    assert len(blocks[0]["text"]["text"]) <= 150
    for block in blocks:
        if "text" in block:
            assert len(block["text"]["text"]) <= 3000
        for field in block.get("fields", []):
            assert len(field["text"]) <= 2000
        for element in block.get("elements", []):
            if element["type"] == "button":
                assert len(element["text"]["text"]) <= 75
                assert len(element["url"]) <= 3000
            else:
                assert len(element["text"]) <= 3000
    # And what was cut says so, and the hidden tasks are counted
    assert any(TRUNCATION_MARK in text for text in texts(payload))
    assert "30 more failed tasks not shown" in json.dumps(payload)


@pytest.mark.parametrize("size", [0, 1, 2999, 3000, 3001, 10_000])
def test_fitting_never_splits_an_entity_and_respects_the_limit(size: int) -> None:
    fitted = fit_mrkdwn("<" * size, 3000, code=True)
    assert len(fitted) <= 3000
    body = fitted.removeprefix("```\n").removesuffix("\n```").removesuffix(TRUNCATION_MARK)
    assert body.replace("&lt;", "") == ""


def test_escaping_is_exactly_slacks_three_entities() -> None:
    assert escape_mrkdwn("a & b < c > d") == "a &amp; b &lt; c &gt; d"


def test_each_failed_task_links_to_its_log_stream_with_the_console_encoding() -> None:
    url = log_stream_url(
        "eu-west-1",
        "/aws/mwaa-serverless/sales-Ab3dE6gH9j/",
        "workflow_id=sales-Ab3dE6gH9j/run_id=manual__2026-11-24T00:00:00+00:00/task_id=load/attempt=1.log",
    )
    assert url == (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/"
        "$252Faws$252Fmwaa-serverless$252Fsales-Ab3dE6gH9j$252F/log-events/"
        "workflow_id$253Dsales-Ab3dE6gH9j$252Frun_id$253Dmanual__2026-11-24T00$253A00$253A00$252B00$253A00"
        "$252Ftask_id$253Dload$252Fattempt$253D1.log"
    )
    payload = slack_message(an_alert())
    buttons = [block["accessory"]["url"] for block in payload["blocks"] if "accessory" in block]
    assert buttons == [an_alert().failed_tasks[0].log_url]


def test_the_subject_is_short_ascii_and_single_line() -> None:
    task = replace(an_alert().failed_tasks[0], task_id="ü\n" * 100, error_message="é\n" * 500)
    for alert in (an_alert(failed_tasks=(task,)), an_alert(run_id="ü\n" * 200, failed_tasks=())):
        long = subject(alert)
        assert len(long) <= 100
        assert long.isascii()
        assert "\n" not in long
    assert subject(an_alert(run_id="r1", failed_tasks=())) == "[mwaa-obs] FAILED sales run r1"
    assert subject(an_alert(kind=AlertKind.RECOVERY)).startswith("[mwaa-obs] RESOLVED sales")


def test_a_failure_is_headed_by_the_task_that_broke_the_run_first_and_its_error() -> None:
    # Given a run whose load_sales task failed first and whose report task failed after it
    first = an_alert().failed_tasks[0]
    later = replace(first, task_id="report", error_message="ValueError: empty\nTraceback ...")
    alert = an_alert(failed_tasks=(first, later))
    # Then the subject, the Slack header and fallback, Amazon Q's title and the email name both, the first one first
    headline = "sales failed at load_sales: AccessDenied: s3://bucket/key (and 1 more failed task)"
    assert alert.headline == headline
    assert (
        subject(alert) == "[mwaa-obs] sales failed at load_sales: Access... (run scheduled__2026-11-24T00:00:00+00:00)"
    )
    assert (
        subject(an_alert(run_id="r1"))
        == "[mwaa-obs] sales failed at load_sales: AccessDenied: s3://bucket/key (run r1)"
    )
    payload = slack_message(alert)
    assert payload["blocks"][0]["text"]["text"] == f":red_circle: {headline}"
    assert payload["text"].startswith(headline)
    chatbot = json.loads(json.loads(sns_message(alert))["https"])
    assert chatbot["content"]["title"] == f":red_circle: {headline}"
    assert email_text(alert).startswith(headline + "\n")
    # And a timed-out task reads as such; a run with no failed task keeps the run's words
    timed_out = replace(first, status="TIMEOUT", error_message=None)
    assert an_alert(status="TIMEOUT", failed_tasks=(timed_out,)).headline == "sales timed out at load_sales"
    assert an_alert(failed_tasks=()).headline == "Run failed: sales"


def test_a_headline_of_hostile_text_pings_no_one_and_shows_no_secret() -> None:
    task = replace(an_alert().failed_tasks[0], task_id="<!channel>", error_message="@here key AKIAIOSFODNN7EXAMPLE")
    alert = an_alert(failed_tasks=(task,))
    header = slack_message(alert)["blocks"][0]["text"]["text"]
    assert "<" not in header
    assert "@here" not in header
    assert "AKIAIOSFODNN7EXAMPLE" not in subject(alert)


def test_the_email_body_is_plain_text_with_everything_needed_to_act() -> None:
    body = email_text(an_alert(error_message="boom\x00\x1b[31m"))
    assert body.startswith("sales failed at load_sales: AccessDenied")
    assert "Duration:  12m 30s" in body
    assert "* load_sales (attempt 2, FAILED, S3CopyObjectOperator)" in body
    assert "AccessDenied: s3://bucket/key" in body
    assert "Log: https://us-east-1.console.aws.amazon.com/cloudwatch/home" in body
    assert "mwaa-obs runs show scheduled__2026-11-24T00:00:00+00:00 --workflow sales" in body
    assert "\x00" not in body
    assert "\x1b" not in body


def test_the_recovery_says_how_long_the_workflow_was_broken_and_how_many_runs_failed() -> None:
    alert = an_alert(kind=AlertKind.RECOVERY, status="SUCCESS", failing_since=T0 - minutes(250), failed_runs=3)
    body = email_text(alert)
    assert "Resolved: sales is succeeding again" in body
    assert "(4h 22m), with 3 failed run(s)" in body


def test_sns_carries_filterable_attributes_and_a_chatbot_notification_for_https() -> None:
    alert = an_alert()
    attributes = {name: value["StringValue"] for name, value in sns_attributes(alert).items()}
    assert attributes == {
        "workflow": "sales",
        "state": "FAILED",
        "severity": "high",
        "kind": "failure",
        "team": "sales-analytics",
    }
    message = json.loads(sns_message(alert))
    assert message["default"] == message["email"] == email_text(alert)
    notification = json.loads(message["https"])
    assert (notification["version"], notification["source"]) == ("1.0", "custom")
    assert notification["content"]["textType"] == "client-markdown"
    assert notification["metadata"]["threadId"] == "sales-Ab3dE6gH9j"


def test_every_other_failure_a_message_names_is_listed_by_run_id_with_its_tasks_and_escaped() -> None:
    hostile = NamedRun(f"run-<script>{INJECTION}", "TIMEOUT", T0, recovered=True, failed_tasks=("a", "b", "c", "d"))
    plain_one = NamedRun("run-2", "FAILED", T0 + minutes(60), recovered=False, error="boom\nsecond line")
    alert = an_alert(named=(hostile, plain_one), grouped=2)
    payload = slack_message(alert)
    rendered = "\n".join(texts(payload))
    assert "2 more failed runs, not told before:" in rendered
    assert "[run-2] FAILED at 2026-11-24 01:00:00 UTC (boom)" in rendered
    assert "already recovered: a later run succeeded" in rendered
    assert ": [a], [b], [c] and 1 more" in rendered
    assert "<script>" not in rendered
    assert "<!channel>" not in rendered
    body = email_text(alert)
    assert "* run-2 FAILED at 2026-11-24 01:00:00 UTC (boom)" in body
    assert "second line" not in body


def test_a_resolved_message_lists_the_runs_of_its_incident_and_a_summary_counts_its_runs() -> None:
    incident = tuple(f"r{n}" for n in range(12))
    alert = an_alert(kind=AlertKind.RECOVERY, status="SUCCESS", failed_runs=12, incident_runs=incident)
    lead = "\n".join(texts(slack_message(alert)))
    assert "with 12 failed runs: `r0`, `r1`" in lead
    assert "`r9` and 2 more." in lead
    assert "r10" not in lead
    assert "r0, r1, r2" in email_text(alert)
    summary = an_alert(kind=AlertKind.SUMMARY, named=(NamedRun("r5", "FAILED", T0, recovered=False),))
    assert summary.headline == "2 failed runs held back: sales"
    assert subject(summary) == "[mwaa-obs] FAILED sales 2 runs"
    assert "Also held back (1):" in "\n".join(texts(slack_message(summary)))


def test_local_up_reads_from_each_email_the_runs_it_names() -> None:
    from mwaa_obs_tools.cli.local import runs_named

    lead = an_alert()
    assert runs_named(email_text(lead)) == [lead.run_id]
    others = (
        NamedRun("run-2", "FAILED", T0 + minutes(60), recovered=False, failed_tasks=("load_sales",)),
        NamedRun("run-3", "TIMEOUT", T0 + minutes(90), recovered=True, error="slow"),
    )
    assert runs_named(email_text(an_alert(named=others))) == [lead.run_id, "run-2", "run-3"]
    summary = an_alert(kind=AlertKind.SUMMARY, named=others)
    assert runs_named(email_text(summary)) == [lead.run_id, "run-2", "run-3"]
    resolved = an_alert(kind=AlertKind.RECOVERY, run_id="ok-1", status="SUCCESS", incident_runs=("f-1", "f-2"))
    assert runs_named(email_text(resolved)) == ["ok-1", "f-1", "f-2"]


def test_an_operator_or_task_id_with_line_breaks_forges_no_line_and_no_text_is_reordered() -> None:
    # Given a task whose operator and id hold line breaks that would start lines of their own, and an error and a
    # run id with right-to-left overrides and Unicode line separators
    forged = "Op\n\nState:     SUCCEEDED\r\nAll good, nothing to do"
    task = FailedTask("load\u2028Run:       fake", 1, "FAILED", forged, "boom \u202egnp.exe", "https://example.com/l")
    alert = an_alert(run_id="r1\u202e", failed_tasks=(task,), error_message="bad \u2066x\u2069 \x85 \x9b2J")
    # When the email and the Slack message are written
    body, payload = email_text(alert), slack_message(alert)
    # Then no line of the email is the operator's or the task id's, and no channel gets a reordering control, a
    # line separator or a C1 control
    lines = body.splitlines()
    assert not any(line.startswith(("State:     SUCCEEDED", "All good", "Run:       fake")) for line in lines)
    assert "* load Run: fake (attempt 1, FAILED, Op State: SUCCEEDED All good, nothing to do)" in lines
    bidi = {*"\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029", *map(chr, range(0x80, 0xA0))}
    for text in [body, *texts(payload)]:
        assert not bidi & set(text)
