"""Section "cold": import time of each function's handler in a fresh interpreter on a Lambda-like path, against
`import boto3` plus one client."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import ROOT, Options, Row

_COLD_HANDLER = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"
_COLD_BASELINE = (
    "import time; t = time.perf_counter(); import boto3; boto3.client('dynamodb'); print(time.perf_counter() - t)"
)
LAMBDA_SITE = ROOT / "bench/.lambda-site"
HANDLERS = ("ingest", "notify", "freshness", "reconcile", "provision", "widget")
TARGET_COLD_MULTIPLE = 1.25


def _lambda_site() -> Path:
    """What a python3.13 Lambda function sees: the runtime's boto3 and the layer's wheels, nothing else.

    The dev venv also holds awscrt and pyOpenSSL (from aws-sam-cli), which botocore imports when present and
    which would inflate both sides of the comparison.
    """
    if not (LAMBDA_SITE / "boto3").is_dir():
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"]
        subprocess.run(
            [*pip, str(LAMBDA_SITE), "--no-deps", "-r", str(ROOT / "layers/common/requirements.txt")], check=True
        )
        subprocess.run([*pip, str(LAMBDA_SITE), "-c", str(ROOT / "requirements-dev.lock"), "boto3"], check=True)
    return LAMBDA_SITE


def run(options: Options) -> dict[str, Any]:
    site = _lambda_site()
    results: dict[str, Any] = {}
    for function in HANDLERS:
        env = {**os.environ, "PYTHONPATH": f"{site}:{ROOT / 'layers/common'}:{ROOT / 'functions' / function}"}
        env.pop("AWS_ENDPOINT_URL", None)
        handler: list[float] = []
        baseline: list[float] = []
        for _ in range(options.cold_samples):  # interleaved, so that machine noise hits both alike
            for code, sink in ((_COLD_HANDLER, handler), (_COLD_BASELINE, baseline)):
                command = [sys.executable, "-S", "-c", code]  # -S: no site-packages, only the Lambda-like path
                out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
                sink.append(float(out.stdout.strip()))
        ours, floor = statistics.median(handler), statistics.median(baseline)
        results[function] = {
            "handler_import_ms": round(ours * 1000, 1),
            "boto3_plus_client_ms": round(floor * 1000, 1),
            "multiple": round(ours / floor, 2),
            "samples": options.cold_samples,
        }
    return results


def rows(cold: dict[str, Any]) -> list[Row]:
    return [
        (
            f"cold import of {function} handler vs boto3 + client",
            f"{figures['handler_import_ms']} ms = {figures['multiple']}x ({figures['boto3_plus_client_ms']} ms)",
            f"<= {TARGET_COLD_MULTIPLE}x",
        )
        for function, figures in cold.items()
    ]
