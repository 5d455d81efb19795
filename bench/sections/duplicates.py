"""duplicates: messages per failed run under at-least-once delivery, concurrent notifiers and a moody Slack.

100 workflows fail one run each; a third of the Failed events are delivered twice, the copy right after the first
(its notice then reaches another notifier within a fraction of a second). Five notify function instances, each a
process of its own (bench/duplicates_worker.py), poll the notices queue with batch size 1 (the mapping's maximum
concurrency 5). Slack, the loopback catcher, answers each post from a seeded mix: at once; slowly; 500, 503 or 429
(retried); a 200 whose body trickles; a 200 after 6 s (past a 5 s read timeout, within the 25 s deadline); and a
200 after 27 s, past the deadline: the documented window (docs/NOTIFICATIONS.md), counted apart. A failed notice is
made visible again at once (lambda_emulation.poll_sqs_once), as the mapping would after its visibility timeout.

Every failure must be named in exactly one email and one Slack message: the figures are the messages beyond one per
run (duplicates) and the runs with none (losses), per channel. `DUPLICATES_ROOT=/path/to/checkout` measures another
checkout's functions and layer with this section (e.g. one at the commit before a change).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.session
from harness import FUNCTIONS, ROOT, Options, Row, empty_emulator

from mwaa_obs_tools.factories import run_event, sqs_event, workflow_arn
from mwaa_obs_tools.slack_catcher import Answer, SlackCatcher

WORKFLOWS = 100
DUPLICATED = 1 / 3
NOTIFIERS = 5
PAST_DEADLINE = 27.0  # seconds: the post's deadline is what the invocation has left (30 s here) minus 5 s
# What Slack answers each post, drawn in order from a seeded stream: (answer, weight).
MOODS: tuple[tuple[Answer, float], ...] = (
    (Answer(), 0.70),
    (Answer(delay=0.3), 0.08),
    (Answer(500, "down"), 0.06),
    (Answer(503, "unavailable"), 0.03),
    (Answer(429, "rate_limited", {"Retry-After": "0"}), 0.03),
    (Answer(200, "ok", trickle=0.05), 0.05),
    (Answer(delay=6.0), 0.04),
    (Answer(delay=PAST_DEADLINE), 0.01),
)
SETTLED_POLLS = 3  # the notices queue empty, nothing in flight, this many polls in a row: done
POLL_SECONDS = 1.0


def run(options: Options) -> dict[str, Any]:
    code = Path(os.environ.get("DUPLICATES_ROOT", ROOT)).resolve()
    draw = random.Random(37)
    answers = draw.choices([answer for answer, _ in MOODS], [weight for _, weight in MOODS], k=4000)
    slack = SlackCatcher()
    slack.start()
    slack.answer_next(*answers)
    try:
        with empty_emulator() as endpoint, tempfile.TemporaryDirectory(prefix="bench-duplicates-") as folder:
            session: Any = botocore.session.get_session()
            sqs = session.create_client("sqs", endpoint_url=endpoint)
            inbox = _inbox(session, sqs)
            session.create_client("ssm", endpoint_url=endpoint).put_parameter(
                Name=FUNCTIONS.settings_parameter, Value="{}", Type="String"
            )
            session.create_client("secretsmanager", endpoint_url=endpoint).create_secret(
                Name=FUNCTIONS.slack_secret, SecretString=slack.url()
            )
            runs, batches = _failures(draw)
            events = Path(folder) / "events.json"
            events.write_text(json.dumps(batches), encoding="utf-8")
            seconds = _deliver(code, events, Path(folder) / "stop", sqs)
            counted = {"email": _per_run(runs, _inbox_bodies(sqs, inbox)),
                       "slack": _per_run(runs, [json.dumps(p) for p in slack.delivered()])}  # fmt: skip
    finally:
        slack.stop()
    # The catcher answers posts in the order they arrive: the first as many answers as posts were given
    window = sum(answer.delay == PAST_DEADLINE for answer in answers[: len(slack.received)])
    return {
        "code": str(code),
        "failed_runs": len(runs),
        "duplicated_events": sum(len(batch) == 1 for batch in batches),
        "slack_posts": len(slack.received),
        "slack_posts_past_the_deadline": window,
        "seconds": round(seconds, 1),
        **{
            f"{channel}_{figure}": value
            for channel, per_run in counted.items()
            for figure, value in {
                "duplicates": sum(max(0, n - 1) for n in per_run.values()),
                "runs_told_more_than_once": sum(n > 1 for n in per_run.values()),
                "runs_not_told": sum(n == 0 for n in per_run.values()),
            }.items()
        },
    }


def _failures(draw: random.Random) -> tuple[list[str], list[list[dict[str, Any]]]]:
    """The run ids, and the ingest batches: each run's Started and Failed, then for a third its Failed again."""
    now = datetime.now(UTC).replace(microsecond=0)
    runs, batches = [], []
    for index in range(WORKFLOWS):
        arn, run_id = workflow_arn(f"probe_{index:03d}"), f"probe-run-{index:03d}"
        started, ended = now - timedelta(minutes=10), now - timedelta(minutes=1)
        failed = run_event("Failed", run_id, ended, arn=arn, errorMessage="boom")
        runs.append(run_id)
        batches.append(sqs_event([run_event("Started", run_id, started, arn=arn), failed])["Records"])
        if draw.random() < DUPLICATED:
            batches.append(sqs_event([failed])["Records"])
    return runs, batches


def _deliver(code: Path, events: Path, stop: Path, sqs: Any) -> float:
    """Start the notifiers, ingest, wait until every notice is handled; the seconds it took."""
    worker = [sys.executable, str(ROOT / "bench/duplicates_worker.py")]
    # No MWAA Serverless API here (the emulator has none): enrichment off, as a message owes nothing to it
    env = {**os.environ, "SLACK_WEBHOOK_SECRET_ARN": FUNCTIONS.slack_secret, "ENRICH_FROM_API": "false"}
    quiet = subprocess.DEVNULL  # their logs and EMF, thrown away
    notifiers = [
        subprocess.Popen([*worker, "notify", str(code), str(stop), FUNCTIONS.notices_queue], env=env, stdout=quiet)
        for _ in range(NOTIFIERS)
    ]
    started = time.perf_counter()
    try:
        subprocess.run([*worker, "ingest", str(code), str(events)], env=env, stdout=quiet, check=True)
        url = sqs.get_queue_url(QueueName=FUNCTIONS.notices_queue)["QueueUrl"]
        settled = 0
        while settled < SETTLED_POLLS:
            time.sleep(POLL_SECONDS)
            names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
            settled = settled + 1 if all(counts[name] == "0" for name in names) else 0
    finally:
        stop.touch()
        for notifier in notifiers:
            notifier.wait(timeout=120)
    return time.perf_counter() - started


def _inbox(session: Any, sqs: Any) -> str:
    """An SQS queue subscribed to the alert topic: what email subscribers receive."""
    sns = session.create_client("sns")
    topic = sns.create_topic(Name=FUNCTIONS.alert_topic)["TopicArn"]
    url: str = sqs.create_queue(QueueName="bench-duplicates-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return url


def _inbox_bodies(sqs: Any, url: str) -> list[str]:
    bodies = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def _per_run(runs: list[str], messages: list[str]) -> Counter[str]:
    """How many messages name each run."""
    return Counter({run_id: sum(run_id in message for message in messages) for run_id in runs})


def rows(figures: dict[str, Any]) -> list[Row]:
    runs = figures["failed_runs"]
    return [
        (f"duplicate emails per {runs} failed runs", f"{figures['email_duplicates']} "
         f"({figures['email_runs_not_told']} runs not told)", "0 (0)"),
        (f"duplicate Slack messages per {runs} failed runs", f"{figures['slack_duplicates']} "
         f"({figures['slack_runs_not_told']} not told; {figures['slack_posts_past_the_deadline']} posts answered "
         "past the deadline: the window)", "<= posts past the deadline (0)"),
    ]  # fmt: skip
