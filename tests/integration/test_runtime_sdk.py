"""The SDK Lambda runs is the SDK the tests run: the layer pins botocore (layers/common/requirements.txt) at the
version of requirements-dev.lock, so a call with a parameter that botocore lacks fails in the tests as it would fail
in Lambda. What such a call looks like, with the SDK a python3.13 runtime may bundle (botocore 1.43.1 and older have
no PutDashboard Tags: PutDashboardInput's members were DashboardName and DashboardBody until 1.43.2)."""

from __future__ import annotations

import copy
import importlib.metadata
import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ParamValidationError

from mwaa_obs.pacing import Pacer
from mwaa_obs.provisioning import Provisioner
from mwaa_obs.settings import parse_settings
from tests.integration.test_provision import CONTEXT, DEDICATED, SHARED_DASHBOARD

ROOT = Path(__file__).resolve().parents[2]


def pins(path: Path) -> dict[str, str]:
    """name -> version of a requirements file's `name==version` lines (names normalised as pip does)."""
    found = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in found}


def test_the_layer_ships_the_sdk_the_tests_run() -> None:
    layer, dev = pins(ROOT / "layers/common/requirements.txt"), pins(ROOT / "requirements-dev.lock")
    # botocore and every dependency of it are in the layer: the runtime's own are never mixed with ours
    assert {"botocore", "jmespath", "python-dateutil", "six", "urllib3"} <= set(layer)
    assert {name: dev.get(name) for name in layer} == layer
    assert layer["botocore"] == importlib.metadata.version("botocore")


def older_sdk(tmp_path: Path) -> botocore.session.Session:
    """A botocore session whose CloudWatch model is the pinned one without PutDashboard's Tags, as botocore 1.43.1
    had it (a model file earlier in the loader's search path wins, as AWS_DATA_PATH's do)."""
    model: dict[str, Any] = copy.deepcopy(
        botocore.session.get_session().get_component("data_loader").load_service_model("cloudwatch", "service-2")
    )
    del model["shapes"]["PutDashboardInput"]["members"]["Tags"]
    folder = tmp_path / "cloudwatch" / model["metadata"]["apiVersion"]
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(model), encoding="utf-8")
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(tmp_path))
    return session


def test_provisioning_with_an_sdk_that_lacks_put_dashboard_tags_fails(endpoint: str, tmp_path: Path) -> None:
    # Given the provisioner on a CloudWatch client of an SDK without PutDashboard Tags
    cloudwatch: Any = older_sdk(tmp_path).create_client("cloudwatch", endpoint_url=endpoint, region_name="us-east-1")
    provisioner = Provisioner(Pacer().attach(cloudwatch), CONTEXT, SHARED_DASHBOARD)
    cloudwatch.put_dashboard(DashboardName=SHARED_DASHBOARD, DashboardBody=json.dumps({"widgets": []}))
    try:
        # When a dedicated workflow's dashboard is written, Then the call is refused before it is sent
        with pytest.raises(ParamValidationError, match='Unknown parameter in input: "Tags"'):
            provisioner.provision("sales_etl", parse_settings(json.dumps(DEDICATED)).route_for("sales_etl"), [])
    finally:
        found = cloudwatch.describe_alarms(
            AlarmNamePrefix="mwaa-obs-sales_etl-", AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        )
        names = [alarm["AlarmName"] for alarm in found["MetricAlarms"] + found["CompositeAlarms"]]
        if names:
            cloudwatch.delete_alarms(AlarmNames=names)
        cloudwatch.delete_dashboards(DashboardNames=[SHARED_DASHBOARD])
