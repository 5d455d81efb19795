"""What one scheduled pass (reconcile, discovery) carries from step to step: its report, the places it could not
reach, the items it skipped."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from mwaa_obs import SERVICE
from mwaa_obs.events import Place, place_of
from mwaa_obs.isolation import Isolation, is_item_fault
from mwaa_obs.metrics import PLACES_UNREACHABLE
from mwaa_obs.telemetry import MetricSink

logger = Logger(service=SERVICE, child=True)


@dataclass
class PassReport:
    workflows_read: int = 0
    workflows_deleted: int = 0
    runs_checked: int = 0
    runs_still_open: int = 0
    runs_repaired: int = 0
    tasks_repaired: int = 0
    runs_left: int = 0  # not reached before the deadline; the next pass takes them
    workflows_listed: int = 0  # discovery: workflows whose recent runs were listed
    workflows_left: int = 0  # discovery: not reached before the deadline
    runs_discovered: int = 0
    runs_waiting: int = 0  # final, with attempts the API has yet to end: checked again by the next pass
    attempts_closed: int = 0
    attempts_folded: int = 0  # second items of one task attempt folded into its own
    items_skipped: int = 0
    events_stopped: bool = False
    places_unreachable: list[str] = field(default_factory=list)  # other accounts/regions whose API failed


class Places:
    """Failure isolation per account and region in one pass: the first failure of another place's API (its reader
    role, its endpoint) is logged and counted, and that place is left alone until the next pass; the other places
    go on. A failure at home propagates, as in a single-account stack."""

    def __init__(self, home: Place | None, sink: MetricSink, report: PassReport) -> None:
        self._home = home
        self._sink = sink
        self._report = report
        self._failed: set[Place] = set()

    def call[T](self, arn_or_place: str | Place | None, work: Callable[[], T]) -> T | None:
        place = place_of(arn_or_place) if isinstance(arn_or_place, str) else arn_or_place
        if self._home is None or place is None or place == self._home:
            return work()
        if place in self._failed:
            return None
        try:
            return work()
        except (ClientError, BotoCoreError) as error:
            if is_item_fault(error):
                raise  # the item's, not the place's: skipped alone (mwaa_obs.isolation)
            self._failed.add(place)
            self._report.places_unreachable.append(str(place))
            self._sink.count(PLACES_UNREACHABLE)
            logger.error(
                "account unreachable: its runs wait for the next pass",
                extra={"account": place.account, "region": place.region, "error": str(error)[:300]},
            )
            return None


@dataclass
class Pass:
    """What one pass carries from step to step."""

    now: datetime
    sink: MetricSink
    report: PassReport
    places: Places
    items: Isolation

    @classmethod
    def begin(cls, now: datetime, sink: MetricSink, home: Place | None) -> Pass:
        report = PassReport()
        return cls(now, sink, report, Places(home, sink, report), Isolation(sink))
