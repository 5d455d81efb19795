"""Central mode: one account's unreachable API costs that account its pass, never the others'; the API of each
workflow is asked where the workflow lives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from mwaa_obs.config import ReaderRole
from mwaa_obs.events import Place
from mwaa_obs.metrics import ITEMS_SKIPPED, PLACES_UNREACHABLE, SeriesPolicy
from mwaa_obs.mwaa_api import MwaaApi, ReaderClients, RecentRuns, WorkflowAnswer, WorkflowSummary
from mwaa_obs.reconcile import Pass, PassReport, Places, Reconciler
from mwaa_obs.store.schema import WorkflowItem
from mwaa_obs.telemetry import MetricSink
from mwaa_obs_tools.sample_events import HOME, OTHER

THIRD = Place("333333333333", "ap-southeast-2")


def denied(*_: Any, **__: Any) -> Any:
    raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not trusted"}}, "AssumeRole")


def test_a_failing_place_is_counted_once_and_left_alone_while_the_others_go_on() -> None:
    sink, report = MetricSink(), PassReport()
    places = Places(HOME, sink, report)
    calls: list[Place] = []

    def work(place: Place) -> str:
        calls.append(place)
        if place == OTHER:
            denied()
        return str(place)

    answers = [places.call(place, partial(work, place)) for place in (OTHER, THIRD, OTHER, HOME)]
    assert answers == [None, str(THIRD), None, str(HOME)]
    assert calls == [OTHER, THIRD, HOME]  # the failed place is not asked again in this pass
    assert [point.spec for point in sink.points] == [PLACES_UNREACHABLE]
    assert report.places_unreachable == [str(OTHER)]


def test_a_failure_at_home_is_not_hidden() -> None:
    places = Places(HOME, MetricSink(), PassReport())
    with pytest.raises(ClientError):
        places.call(HOME, denied)


def test_an_items_own_fault_elsewhere_is_the_items_not_the_places() -> None:
    """A request refused for what it holds (issue 33: one bad item never stops a pass) is skipped alone by the
    pass's isolation; the place stays reachable for the next item."""
    step = Pass.begin(datetime(2026, 12, 1, tzinfo=UTC), MetricSink(), HOME)

    def refused() -> None:
        raise ParamValidationError(report="Invalid length for parameter RunId")

    def unexpected() -> None:
        raise ValueError("not a workflow ARN")

    for fault in (refused, unexpected):
        assert step.items.run({"run_id": "r1"}, partial(step.places.call, OTHER, fault)) is None
    assert step.places.call(OTHER, lambda: "answered") == "answered"
    assert step.report.places_unreachable == []
    assert [point.spec for point in step.sink.points] == [ITEMS_SKIPPED, ITEMS_SKIPPED]
    assert step.items.skipped == 2
    # A failure of the service, though, is the pass's: it propagates through the isolation
    with pytest.raises(ClientError):
        step.items.run({"run_id": "r2"}, partial(step.places.call, HOME, denied))


def test_a_workflow_arn_picks_its_place() -> None:
    places = Places(HOME, MetricSink(), PassReport())
    arn = f"arn:aws:airflow-serverless:{OTHER.region}:{OTHER.account}:workflow/orders_etl-Zz9Yy8Xx7W"
    assert places.call(arn, denied) is None


class FakeSts:
    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []

    def assume_role(self, **request: Any) -> dict[str, Any]:
        self.asked.append(request)
        expiry = datetime(2026, 12, 4, 13, 0, tzinfo=UTC)
        keys = {"AccessKeyId": "ASIA" + "X" * 16, "SecretAccessKey": "s", "SessionToken": "t"}
        return {"Credentials": {**keys, "Expiration": expiry}}


def test_calls_go_to_the_workflows_own_place_through_its_reader_role_renewed_before_expiry() -> None:
    sts = FakeSts()
    now = [datetime(2026, 12, 4, 12, 0, tzinfo=UTC).timestamp()]
    home_client = object()
    clients = ReaderClients(HOME, ReaderRole("mwaa-obs-reader", "id-1"), sts, lambda: now[0])
    api = MwaaApi(home_client, clients)
    assert api._for(HOME) is home_client
    there = api._for(OTHER)
    assert there.meta.region_name == OTHER.region
    assert sts.asked == [
        {
            "RoleArn": f"arn:aws:iam::{OTHER.account}:role/mwaa-obs-reader-{OTHER.region}",
            "RoleSessionName": "mwaa-obs",
            "ExternalId": "id-1",
        }
    ]
    assert api._for(OTHER) is there
    now[0] += timedelta(minutes=55).total_seconds()  # within 10 minutes of the expiry: assumed again
    assert api._for(OTHER) is not there
    assert len(sts.asked) == 2


class FleetApi:
    """Each place's workflows, as ListWorkflows gives them; counts the calls by place."""

    def __init__(self, home: Place | None, listed: dict[Place, list[str]]) -> None:
        self.home = home
        self._listed = listed
        self.listings: list[Place | None] = []
        self.described: list[str] = []

    def workflows(self, place: Place | None = None) -> list[WorkflowSummary]:
        self.listings.append(place)
        return [WorkflowSummary(arn, arn, MODIFIED) for arn in self._listed[place or HOME]]

    def workflow(self, arn: str) -> None:
        self.described.append(arn)


class StoredWorkflows:
    def __init__(self, arns: list[str]) -> None:
        self.items = [
            WorkflowItem(f"WF#{arn.rsplit('/', 1)[1]}", "WORKFLOW", workflow_arn=arn, described_at=MODIFIED,
                         modified_at=MODIFIED, workflow_version="0ad517eb5e33deca45a2514c0569079d")
            for arn in arns
        ]  # fmt: skip
        self.deleted: list[str] = []

    def all(self) -> list[WorkflowItem]:
        return self.items

    def mark_deleted(self, item: WorkflowItem, at: datetime) -> None:
        self.deleted.append(str(item.workflow_arn))


MODIFIED = datetime(2026, 12, 1, tzinfo=UTC)
HOME_WORKFLOW = f"arn:aws:airflow-serverless:{HOME.region}:{HOME.account}:workflow/orders_etl-Ab3dE6gH9j"
OTHER_WORKFLOW = f"arn:aws:airflow-serverless:{OTHER.region}:{OTHER.account}:workflow/orders_etl-Zz9Yy8Xx7W"


@pytest.mark.parametrize("home", [None, HOME])
def test_each_place_is_listed_once_and_a_described_workflow_is_not_described_again(home: Place | None) -> None:
    listed = {HOME: [HOME_WORKFLOW], OTHER: [OTHER_WORKFLOW]}
    api = FleetApi(home, listed)
    stored = StoredWorkflows([HOME_WORKFLOW] + ([OTHER_WORKFLOW] if home else []))
    reconciler = Reconciler(cast(Any, api), cast(Any, None), cast(Any, None), cast(Any, stored), cast(Any, None),
                            settle=timedelta(hours=1), policies=lambda _: SeriesPolicy())  # fmt: skip
    step = Pass.begin(MODIFIED, MetricSink(), home)
    reconciler.refresh_workflows(step)
    assert api.listings == ([None, OTHER] if home else [None])
    assert api.described == []
    assert stored.deleted == []  # the other place's workflow is judged by its own listing, not home's


class DiscoveringApi(FleetApi):
    """One place's workflows, described on request, each with no recent run; records whose runs were listed."""

    def __init__(self, listed: list[str]) -> None:
        super().__init__(None, {HOME: listed})
        self.runs_listed: list[str] = []

    def workflow(self, arn: str) -> WorkflowAnswer:  # type: ignore[override]
        self.described.append(arn)
        return WorkflowAnswer(arn, None, None, None, "READY", MODIFIED)

    def recent_runs(self, arn: str, since: datetime, max_pages: int) -> RecentRuns:
        self.runs_listed.append(arn)
        return RecentRuns([], complete=True, newest_first=True)


class CountedWorkflows(StoredWorkflows):
    reads = 0

    def all(self) -> list[WorkflowItem]:
        self.reads += 1
        return self.items

    def mark_deleted(self, item: WorkflowItem, at: datetime) -> None:
        super().mark_deleted(item, at)
        item.deleted_at = at  # as Workflows.mark_deleted leaves the item it was given

    def save_description(self, found: WorkflowAnswer, now: datetime) -> WorkflowItem:
        return WorkflowItem(f"WF#{found.arn.rsplit('/', 1)[1]}", "WORKFLOW", workflow_arn=found.arn, described_at=now,
                            first_seen_at=now, gsi1sk=found.arn.rsplit("/", 1)[1])  # fmt: skip


class NothingStored:
    def seen_since(self, workflow_id: str, since: datetime) -> dict[str, bool]:
        return {}

    def unverified_runs(self, listed_before: datetime) -> list[tuple[str, str]]:
        return []


def test_a_discovery_pass_reads_the_workflow_list_once_and_lists_the_runs_of_what_its_refresh_left() -> None:
    stored_arn, gone, new = (HOME_WORKFLOW.replace("orders_etl", name) for name in ("kept", "gone", "brand_new"))
    api = DiscoveringApi([stored_arn, new])
    stored = CountedWorkflows([stored_arn, gone])
    reconciler = Reconciler(cast(Any, api), cast(Any, NothingStored()), cast(Any, NothingStored()), cast(Any, stored),
                            cast(Any, None), settle=timedelta(hours=1), policies=lambda _: SeriesPolicy())  # fmt: skip
    reconciler.run_pass(MODIFIED + timedelta(days=1), MetricSink(), discover=True)
    # One read of the list for the refresh and the discovery (it was two: one each)
    assert stored.reads == 1
    # The runs of the workflow still there and of the one the refresh found are listed; not those of the deleted one
    assert stored.deleted == [gone]
    assert api.described == [new]
    assert sorted(api.runs_listed) == sorted([stored_arn, new])
