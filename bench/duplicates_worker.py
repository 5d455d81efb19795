"""One function instance of the duplicates section (bench/sections/duplicates.py), in a process of its own as a
concurrent Lambda invocation has: `notify` polls the notices queue (batch size 1) until the stop file appears;
`ingest` sends the batches of an events file through the ingest function, in order, then ends.

    python bench/duplicates_worker.py notify|ingest ROOT [EVENTS.json | STOP_FILE]

ROOT is the checkout whose functions and layer run (another one's measures its code, before a change); the tools
(moto's clients, the SQS polling) are this checkout's. The environment is the bench's (harness.offline_process).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
ROOT = Path(sys.argv[2]).resolve()
sys.path[:0] = [str(ROOT / "layers/common"), str(HERE / "src")]

import botocore.session  # noqa: E402

from mwaa_obs_tools import emulator  # noqa: E402
from mwaa_obs_tools.lambda_emulation import FakeLambdaContext, load_handler, poll_sqs_once  # noqa: E402

IDLE_POLL_SECONDS = 0.05


def main(mode: str, argument: Path) -> None:
    template = emulator.load_template(ROOT / "template.yaml")
    if mode == "ingest":
        ingest = load_handler(template, "IngestFunction", ROOT)
        for batch in json.loads(argument.read_text(encoding="utf-8")):
            ingest({"Records": batch}, FakeLambdaContext())
        return
    notify = load_handler(template, "NotifyFunction", ROOT)
    sqs: Any = botocore.session.get_session().create_client("sqs")
    url = sqs.get_queue_url(QueueName=sys.argv[4])["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    while not argument.exists():
        if not poll_sqs_once(sqs, url, arn, notify, 1).received:
            time.sleep(IDLE_POLL_SECONDS)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[3]))
