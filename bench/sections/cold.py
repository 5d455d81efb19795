"""Section "cold": import time of each function's handler in a fresh interpreter on a Lambda-like path, against
`import boto3` plus one client; and the layer's size, with the SDK it pins (botocore and its dependencies) apart."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
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
# What the layer ships of the SDK (layers/common/requirements.txt): botocore and its dependencies' import folders.
SDK_FOLDERS = ("botocore", "jmespath", "dateutil", "urllib3", "six.py")


def _runtime_site() -> Path:
    """What the python3.13 runtime brings: boto3 (at the dev tools' version), for the baseline.

    The dev venv also holds awscrt and pyOpenSSL (from aws-sam-cli), which botocore imports when present and
    which would inflate the comparison.
    """
    if not (LAMBDA_SITE / "boto3").is_dir():
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"]
        subprocess.run([*pip, str(LAMBDA_SITE), "-c", str(ROOT / "requirements-dev.lock"), "boto3"], check=True)
    return LAMBDA_SITE


def _megabytes(paths: list[Path]) -> float:
    files = [f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()]
    return round(sum(f.stat().st_size for f in files) / 1e6, 1)


def build_layer(into: Path) -> Path:
    """The layer as `sam build` builds it (layers/common/Makefile: arm64 wheels, botocore's models trimmed to the
    services called); its python/ folder, /opt/python in Lambda."""
    subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT / "layers/common"), "build-CommonLayer"],
        env={**os.environ, "ARTIFACTS_DIR": str(into), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
        check=True, capture_output=True,
    )  # fmt: skip
    return into / "python"


def layer_size(python: Path) -> dict[str, float]:
    """The built layer unzipped and zipped, and the part of it that is the pinned SDK. Lambda's limit: 250 MB
    unzipped, function and layers together."""
    archive = python.parent / "layer.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(python.rglob("*")):
            zipped.write(path, path.relative_to(python.parent))
    entries = zipfile.ZipFile(archive).infolist()
    return {
        "unzipped_mb": _megabytes([python]),
        "zipped_mb": _megabytes([archive]),
        "sdk_unzipped_mb": _megabytes([python / name for name in SDK_FOLDERS]),
        "sdk_zipped_mb": round(
            sum(e.compress_size for e in entries if e.filename.split("/")[1] in SDK_FOLDERS) / 1e6, 1
        ),
    }


def run(options: Options) -> dict[str, Any]:
    site = _runtime_site()
    with tempfile.TemporaryDirectory() as built:
        layer = build_layer(Path(built))
        results: dict[str, Any] = {"layer": layer_size(layer)}
        for function in HANDLERS:
            # The handler on Lambda's path: its folder, then the layer (whose botocore comes before the runtime's)
            handler_env = {**os.environ, "PYTHONPATH": f"{ROOT / 'functions' / function}:{layer}:{site}"}
            baseline_env = {**os.environ, "PYTHONPATH": str(site)}
            for env in (handler_env, baseline_env):  # /opt is read-only in Lambda: no .pyc is ever written
                env.pop("AWS_ENDPOINT_URL", None)
                env["PYTHONDONTWRITEBYTECODE"] = "1"
            handler: list[float] = []
            baseline: list[float] = []
            for _ in range(options.cold_samples):  # interleaved, so that machine noise hits both alike
                for code, env, sink in (
                    (_COLD_HANDLER, handler_env, handler),
                    (_COLD_BASELINE, baseline_env, baseline),
                ):
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
    layer = cold.get("layer")
    sized: list[Row] = (
        [
            (
                "layer size, of which the pinned SDK (botocore and its dependencies)",
                f"{layer['unzipped_mb']} MB unzipped, {layer['zipped_mb']} MB zipped; "
                f"SDK {layer['sdk_unzipped_mb']} MB, {layer['sdk_zipped_mb']} MB zipped",
                "<= 250 MB unzipped (Lambda's limit)",
            )
        ]
        if layer
        else []
    )
    return sized + [
        (
            f"cold import of {function} handler vs boto3 + client",
            f"{figures['handler_import_ms']} ms = {figures['multiple']}x ({figures['boto3_plus_client_ms']} ms)",
            f"<= {TARGET_COLD_MULTIPLE}x",
        )
        for function, figures in cold.items()
        if function != "layer"
    ]
