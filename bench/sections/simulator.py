"""Section "simulator": per-call latency of the MWAA Serverless simulator's API through botocore, as every caller
pays it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from harness import Nowhere, Options, Row, kept_environment, percentiles

SIMULATOR_CALLS = 300
TARGET_SIMULATOR_MS = 5


def run(options: Options) -> dict[str, Any]:
    from mwaa_obs.mwaa_api import api_client  # noqa: PLC0415
    from mwaa_obs_tools.simulator.api import ApiServer  # noqa: PLC0415
    from mwaa_obs_tools.simulator.engine import Engine  # noqa: PLC0415

    engine = Engine(Nowhere(), lambda _: "", start=datetime(2026, 11, 24, tzinfo=UTC))
    server = ApiServer(engine).start()
    try:
        with kept_environment(AWS_ENDPOINT_URL_MWAA_SERVERLESS=server.url):
            client = api_client()
            client.list_workflows()  # connection and model loading out of the samples
            samples = []
            for _ in range(SIMULATOR_CALLS):
                started = time.perf_counter()
                client.list_workflows()
                samples.append((time.perf_counter() - started) * 1000)
    finally:
        server.stop()
    return {"calls": SIMULATOR_CALLS, "operation": "ListWorkflows", "ms": percentiles(samples)}


def rows(simulator: dict[str, Any]) -> list[Row]:
    figures = simulator["ms"]
    return [
        (
            f"simulator: {simulator['operation']} per call",
            f"p50 {figures['p50']} ms, p95 {figures['p95']} ms ({simulator['calls']} calls)",
            f"p50 < {TARGET_SIMULATOR_MS} ms",
        )
    ]
