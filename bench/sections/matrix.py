"""Section "matrix": the fleet matrix over 1,000 workflows (3 runs each, stored through the ingest handler): the
DynamoDB requests one render sends (counted on the client, every page of every Query), the items they return, the
page's size and the wall time against the emulator (serialised, on a shared machine: not a latency), for the first
page, a name filter and the last page. Read units are not reported: moto counts 1 a request whatever it reads."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from harness import FUNCTIONS, Options, Row, empty_emulator, ingest_capturing_emf, ingest_function

from mwaa_obs.aws import dynamodb_client
from mwaa_obs_tools import sample_events

MATRIX_WORKFLOWS, MATRIX_RUNS_EACH = 1_000, 3
TARGET_READS = 60  # a page: the workflow list and one Query per workflow shown (50)


class CountingClient:
    """The DynamoDB client the repositories use, counting each request sent and the items it returned."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self.requests = 0
        self.items = 0

    def query(self, **request: Any) -> Any:
        answer = self._client.query(**request)
        with self._lock:
            self.requests += 1
            self.items += len(answer.get("Items", []))
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _events(start: datetime) -> list[dict[str, Any]]:
    events = []
    for number in range(MATRIX_WORKFLOWS):
        arn = f"arn:aws:airflow-serverless:us-east-1:123456789012:workflow/fleet_{number:04d}-BENCHBENCH"
        for run in range(MATRIX_RUNS_EACH):
            ended = "Failed" if (number + run) % 7 == 0 else "Succeeded"
            body = {"workflowArn": arn, "runId": f"r{run}"}
            at = start + timedelta(hours=run, seconds=number)
            events.append(sample_events.envelope(f"MWAA Serverless Workflow Run {ended}", body, at, arn))
    return events


def run(options: Options) -> dict[str, Any]:
    from mwaa_obs.matrix import MATRIX_ROWS  # noqa: PLC0415
    from mwaa_obs.store.runs import Runs  # noqa: PLC0415
    from mwaa_obs.store.workflows import Workflows  # noqa: PLC0415
    from mwaa_obs.view_html import Viewer  # noqa: PLC0415
    from mwaa_obs.widget import ViewReader, render  # noqa: PLC0415
    from mwaa_obs.widget_request import ViewRequest  # noqa: PLC0415
    from mwaa_obs_tools.ui import LocalNavigation  # noqa: PLC0415

    start = datetime(2026, 11, 24, tzinfo=UTC)
    end = start + timedelta(hours=MATRIX_RUNS_EACH + 1)
    viewer, nav = Viewer("us-east-1", "mwaa-obs"), LocalNavigation({})
    last_page = -(-MATRIX_WORKFLOWS // MATRIX_ROWS)
    asked = {
        "first_page": {"view": "matrix"},
        "name_filter_10": {"view": "matrix", "filter": "fleet_000"},
        "last_page": {"view": "matrix", "page": str(last_page)},
    }
    with ingest_function() as ingest, empty_emulator() as endpoint:
        failures, _ = ingest_capturing_emf(ingest, _events(start))
        figures: dict[str, Any] = {"workflows": MATRIX_WORKFLOWS, "failed_records": failures}
        for name, params in asked.items():
            client = CountingClient(dynamodb_client(endpoint))
            reader = ViewReader(Runs(client, FUNCTIONS.table_name), Workflows(client, FUNCTIONS.table_name))
            request = ViewRequest.of(params, start, end, "light")
            started = time.perf_counter()
            page = render(request, reader, nav, viewer, end)
            wall = time.perf_counter() - started
            figures[name] = {
                "rows": page.count('class="workflow"'),
                "reads": reader.reads,
                "requests": client.requests,
                "items": client.items,
                "page_kb": round(len(page.encode()) / 1024, 1),
                "wall_ms_against_emulator": round(wall * 1000, 1),
            }
    return figures | {"target_reads": TARGET_READS}


def rows(matrix: dict[str, Any]) -> list[Row]:
    return [
        (
            f"fleet matrix, {matrix['workflows']:,} workflows, {name.replace('_', ' ')}: DynamoDB requests per render",
            f"{matrix[name]['requests']} requests ({matrix[name]['rows']} rows; {matrix[name]['items']} items; "
            f"{matrix[name]['page_kb']} KB page; {matrix[name]['wall_ms_against_emulator']} ms vs emulator)",
            f"<= {matrix['target_reads']} requests",
        )
        for name in ("first_page", "name_filter_10", "last_page")
    ]
