"""Enrichment: what a stored run or task attempt lacks, asked of the MWAA Serverless API once per item and status.

The event `detail` schema is unpublished, so an event may carry less than the alert and the metrics need. Before
the notifier builds a run's message, each of the run's items that lacks something that matters for its status is
read from the API (GetWorkflowRun / GetTaskInstance) and the fields the API supplies are written where they are
still missing. The item then records the status it was enriched at, so a repeated notice asks nothing again. An
API failure (after the client's adaptive retries) is logged and counted; the message goes out with what is known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from mwaa_obs import SERVICE
from mwaa_obs.ingest import durations_completed
from mwaa_obs.metrics import ENRICHMENT_FAILURES, MetricPoint
from mwaa_obs.mwaa_api import MwaaApi
from mwaa_obs.states import ENDED_RANK, FAILED_RUN_STATES, RUN_RANK, TASK_RANK
from mwaa_obs.store import RunItem, StateItem, Store, TaskAttemptItem, Timeline

logger = Logger(service=SERVICE, child=True)

TASK_ERROR_STATES: Final = frozenset({"FAILED", "TIMEOUT", "UP_FOR_RETRY"})
NEVER_RAN: Final = frozenset({"UPSTREAM_FAILED"})


def missing(item: StateItem) -> list[str]:
    """The attributes that matter for the item's status and are not stored."""
    status = item.status or ""
    wanted: list[str] = []
    if isinstance(item, RunItem):
        rank = RUN_RANK.get(status, 0)
        wanted = ["run_type"]
        if rank >= RUN_RANK["RUNNING"]:
            wanted.append("started_at")
        if rank >= ENDED_RANK:
            wanted.append("ended_at")
        if status in FAILED_RUN_STATES:
            wanted.append("error_message")
    elif isinstance(item, TaskAttemptItem):
        rank = TASK_RANK.get(status, 0)
        wanted = ["operator"]
        if rank >= TASK_RANK["RUNNING"] and status not in NEVER_RAN:
            wanted += ["started_at", "log_stream"]
        if rank >= ENDED_RANK and status not in NEVER_RAN:
            wanted.append("ended_at")
        if status in TASK_ERROR_STATES:
            wanted.append("error_message")
    return [name for name in wanted if getattr(item, name) is None]


def run_fields(answer: Mapping[str, Any]) -> dict[str, Any]:
    detail = answer.get("RunDetail", {})
    return {
        "run_type": answer.get("RunType") or detail.get("RunType"),
        "started_at": _time(detail.get("StartedOn")),
        "ended_at": _time(detail.get("CompletedOn")),
        "error_message": detail.get("ErrorMessage"),
    }


def task_fields(answer: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "operator": answer.get("OperatorName"),
        "started_at": _time(answer.get("StartedAt")),
        "ended_at": _time(answer.get("EndedAt")),
        "error_message": answer.get("ErrorMessage"),
        "log_stream": answer.get("LogStream"),
    }


class Enricher:
    def __init__(self, api: MwaaApi, store: Store) -> None:
        self._api = api
        self._store = store

    def complete(self, run: RunItem, items: Sequence[StateItem]) -> list[MetricPoint]:
        """Fill what the items (the run, its attempts) lack, updating them in place; the metrics filled times owe."""
        owed: list[MetricPoint] = []
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
                owed.append(MetricPoint(ENRICHMENT_FAILURES, 1))
                continue
            wanted = {name: found[name] for name in gaps if found.get(name) is not None}
            before = self._store.fill(item, item.status or "", wanted)
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
            owed.extend(
                durations_completed(
                    is_run=isinstance(item, RunItem), before=before, after=after, workflow=run.workflow_name
                )
            )
            logger.info(
                "enriched from the API", extra={"run_id": run.run_id, "item": item.sk, "filled": sorted(wanted)}
            )
        return owed

    def _ask(self, item: StateItem) -> dict[str, Any]:
        arn = item.workflow_arn or ""
        if isinstance(item, TaskAttemptItem):
            if not item.task_instance_id:
                return {}
            answer = self._api.task(arn, item.run_id, item.task_instance_id)
            if answer is None or answer.get("AttemptNumber") not in (None, item.attempt):
                return {}  # the API describes only the latest attempt
            return task_fields(answer)
        answer = self._api.run(arn, item.run_id)
        return run_fields(answer) if answer is not None else {}


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return None
