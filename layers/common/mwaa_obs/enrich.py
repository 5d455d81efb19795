"""Enrichment: what a stored run or task attempt lacks, asked of the MWAA Serverless API once per item and status.

The event `detail` schema is unpublished, so an event may carry less than the alert and the metrics need. Before
the notifier builds a run's message, each of the run's items that lacks something that matters for its status is
read from the API (GetWorkflowRun / GetTaskInstance) and the fields the API supplies are written where they are
still missing. The item then records the status it was enriched at, so a repeated notice asks nothing again. An
API failure (after the client's adaptive retries) is logged and counted; the message goes out with what is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from mwaa_obs import SERVICE
from mwaa_obs.ingest import durations_completed
from mwaa_obs.metrics import ENRICHMENT_FAILURES, Policies
from mwaa_obs.mwaa_api import MwaaApi, RunAnswer, TaskAnswer
from mwaa_obs.states import (
    ENDED_RANK,
    FAILED_RUN_STATES,
    RUN_RANK,
    TASK_ERROR_STATES,
    TASK_NEVER_RAN_STATES,
    TASK_RANK,
    RunState,
    TaskState,
)
from mwaa_obs.store.schema import RunItem, StateItem, TaskAttemptItem
from mwaa_obs.store.transitions import Timeline, Transitions
from mwaa_obs.telemetry import MetricSink

logger = Logger(service=SERVICE, child=True)


def missing(item: StateItem) -> list[str]:
    """The attributes that matter for the item's status and are not stored."""
    status = item.status or ""
    wanted: list[str] = []
    if isinstance(item, RunItem):
        rank = RUN_RANK.get(status, 0)
        wanted = ["run_type"]
        if rank >= RUN_RANK[RunState.RUNNING]:
            wanted.append("started_at")
        if rank >= ENDED_RANK:
            wanted.append("ended_at")
        if status in FAILED_RUN_STATES:
            wanted.append("error_message")
    elif isinstance(item, TaskAttemptItem):
        rank = TASK_RANK.get(status, 0)
        ran = status not in TASK_NEVER_RAN_STATES
        wanted = ["operator"]
        if rank >= TASK_RANK[TaskState.RUNNING] and ran:
            wanted += ["started_at", "log_stream"]
        if rank >= ENDED_RANK and ran:
            wanted.append("ended_at")
        if status in TASK_ERROR_STATES:
            wanted.append("error_message")
    return [name for name in wanted if getattr(item, name) is None]


def run_fields(answer: RunAnswer) -> dict[str, Any]:
    return {
        "run_type": answer.run_type,
        "started_at": answer.started_at,
        "ended_at": answer.ended_at,
        "error_message": answer.error_message,
    }


def task_fields(answer: TaskAnswer) -> dict[str, Any]:
    return {
        "operator": answer.operator,
        "started_at": answer.started_at,
        "ended_at": answer.ended_at,
        "error_message": answer.error_message,
        "log_stream": answer.log_stream,
    }


class Enricher:
    def __init__(self, api: MwaaApi, transitions: Transitions, policies: Policies) -> None:
        self._api = api
        self._transitions = transitions
        self._policies = policies

    def complete(self, run: RunItem, items: Sequence[StateItem], sink: MetricSink) -> None:
        """Fill what the items (the run, its attempts) lack, updating them in place; the metrics filled times owe
        go to the sink."""
        for item in items:
            gaps = missing(item)
            if not gaps or item.enriched == item.status or not item.workflow_arn:
                continue
            try:
                found = self._ask(item)
            except (BotoCoreError, ClientError) as error:
                logger.warning(
                    "enrichment failed; the message uses what is stored",
                    extra={"run_id": run.run_id, "item": item.sk, "error": str(error)[:200]},
                )
                sink.count(ENRICHMENT_FAILURES)
                continue
            wanted = {name: found[name] for name in gaps if found.get(name) is not None}
            before = self._transitions.fill(item, item.status or "", wanted)
            if before is None:
                continue  # another delivery enriched it at this status first
            for name, value in wanted.items():
                if getattr(item, name) is None:
                    setattr(item, name, value)
            item.enriched = item.status
            after = Timeline(
                before.queued_at,
                before.started_at or wanted.get("started_at"),
                before.ended_at or wanted.get("ended_at"),
            )
            sink.extend(
                durations_completed(
                    is_run=isinstance(item, RunItem),
                    before=before,
                    after=after,
                    workflow=run.workflow_name,
                    at=after.ended_at,
                    policy=self._policies(run.workflow_name),
                )
            )
            logger.info(
                "enriched from the API", extra={"run_id": run.run_id, "item": item.sk, "filled": sorted(wanted)}
            )

    def _ask(self, item: StateItem) -> dict[str, Any]:
        arn = item.workflow_arn or ""
        if isinstance(item, TaskAttemptItem):
            if not item.task_instance_id:
                return {}
            task = self._api.task(arn, item.run_id, item.task_instance_id)
            if task is None or task.attempt not in (None, item.attempt):
                return {}  # the API describes only the latest attempt
            return task_fields(task)
        found = self._api.run(arn, item.run_id)
        return run_fields(found) if found is not None else {}
