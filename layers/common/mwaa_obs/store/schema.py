"""The single-table schema: keys, pynamodb models and indexes. No I/O here, and no table name.

Keys (docs/ARCHITECTURE.md has the whole design):
    workflow       pk WF#<workflow id>                 sk WORKFLOW
    version        pk WF#<workflow id>                 sk VERSION#<workflow version>
    run            pk RUN#<workflow id>#<run id>       sk RUN
    task attempt   pk RUN#<workflow id>#<run id>       sk TASK#<task id, else task instance id>#<attempt, 4 digits>
    event sample   pk SAMPLES#<UTC day>                sk <invalid|unknown>#<detail-type>
    change         pk WF#<workflow id>                 sk CHANGE#<time>#<CloudTrail event id>
    account alerts pk ACCOUNTALERTS#<account>          sk <UTC hour>   (mwaa_obs.store.alerts.AccountBudget)
    retry hour     pk RETRIES#<workflow id>            sk <UTC hour, YYYY-MM-DDTHH>   (mwaa_obs.store.retries)

A run and all its task attempts share one partition (one Query); a busy workflow spreads over one partition per
run. GSI `workflow-runs` (gsi1) lists a workflow's runs newest first, and the workflows themselves; GSI
`recent-failures` (gsi2, one partition per UTC day) lists failed and timed-out runs across all workflows; sparse
GSI `unverified-runs` (gsi3, keys only) lists the runs the reconciler has yet to check against the API.

The models name and serialise the attributes; the repositories (mwaa_obs.store.*) send every request through a
botocore client and the table name they were built with, and build models from the raw items with
`Entity.from_raw_data`. The models have no table of their own, so nothing reaches DynamoDB behind a repository's
back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from pynamodb.attributes import (
    BooleanAttribute,
    DiscriminatorAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from mwaa_obs.events import workflow_name_of
from mwaa_obs.states import RUN_RANK, TASK_RANK, seen_attribute

WORKFLOW_SORT_KEY: Final = "WORKFLOW"
RUN_SORT_KEY: Final = "RUN"
WORKFLOWS_PARTITION: Final = "WORKFLOWS"  # gsi1: the partition that lists every workflow
UNVERIFIED_PARTITION: Final = "UNVERIFIED"  # gsi3: the runs the reconciler has yet to check
CHANGE_PREFIX: Final = "CHANGE#"  # a workflow's changes (CloudTrail), in its partition beside the workflow item


def workflow_key(workflow_id: str) -> str:
    return f"WF#{workflow_id}"


def version_sort_key(version: str) -> str:
    return f"VERSION#{version}"


def run_key(workflow_id: str, run_id: str) -> str:
    return f"RUN#{workflow_id}#{run_id}"


def task_sort_key(task_key: str, attempt: int) -> str:
    return f"TASK#{task_key}#{attempt:04d}"


def retries_key(workflow_id: str) -> str:
    return f"RETRIES#{workflow_id}"


def account_alerts_key(account: str) -> str:
    return f"ACCOUNTALERTS#{account}"


def hour_sort_key(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%dT%H}"


def _day_partition(prefix: str, at: datetime) -> str:
    """A partition per UTC day (what is read back a day at a time)."""
    return f"{prefix}#{at.astimezone(UTC):%Y-%m-%d}"


def failures_partition(at: datetime) -> str:
    return _day_partition("FAIL", at)


def samples_partition(at: datetime) -> str:
    return _day_partition("SAMPLES", at)


class WorkflowRunsIndex(GlobalSecondaryIndex["Entity"]):
    class Meta:
        index_name = "workflow-runs"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class RecentFailuresIndex(GlobalSecondaryIndex["Entity"]):
    class Meta:
        index_name = "recent-failures"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class UnverifiedRunsIndex(GlobalSecondaryIndex["Entity"]):
    class Meta:
        index_name = "unverified-runs"
        projection = KeysOnlyProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class Entity(Model):
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()
    expires_at = TTLAttribute(null=True)
    workflow_arn = UnicodeAttribute(null=True)

    workflow_runs = WorkflowRunsIndex()
    recent_failures = RecentFailuresIndex()
    unverified_runs = UnverifiedRunsIndex()

    # Identity lives in the keys alone: every attribute an update sets costs CPU and write capacity.
    @property
    def workflow_id(self) -> str:
        return self.pk.split("#", 2)[1]

    @property
    def workflow_name(self) -> str:
        return workflow_name_of(self.workflow_id)


class HealthAttribute(MapAttribute[str, Any]):
    """alerting.Health as stored on the workflow item (keys of its earlier shape are ignored when read)."""

    last_alert_at = UTCDateTimeAttribute(null=True)
    resolved_through = UTCDateTimeAttribute(null=True)
    last_success_at = UTCDateTimeAttribute(null=True)


class WorkflowItem(Entity, discriminator="workflow"):
    first_seen_at = UTCDateTimeAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)  # WORKFLOWS: the workflow-runs index also lists the workflows
    gsi1sk = UnicodeAttribute(null=True)
    health = HealthAttribute(null=True)
    health_version = NumberAttribute(null=True)  # optimistic lock: notifiers decide one run of a workflow at a time
    # From the MWAA Serverless API (GetWorkflow / ListWorkflows), refreshed by the reconciler:
    described_at = UTCDateTimeAttribute(null=True)  # when GetWorkflow was last read: its schedule is known
    schedule = UnicodeAttribute(null=True)  # cron expression; None once described: runs only on demand
    trigger_mode = UnicodeAttribute(null=True)
    log_group = UnicodeAttribute(null=True)
    workflow_status = UnicodeAttribute(null=True)
    modified_at = UTCDateTimeAttribute(null=True)  # the workflow's ModifiedAt when its metadata was last read
    workflow_version = UnicodeAttribute(null=True)  # its latest version when last described (a version item each)
    deleted_at = UTCDateTimeAttribute(null=True)  # first pass that no longer found it in ListWorkflows
    # Whether dedicated alarms and a dashboard exist for it (None: not known yet). Lets the hourly provisioning
    # pass skip CloudWatch for the many workflows that have none.
    dedicated_resources = BooleanAttribute(null=True)
    dedicated_tags = UnicodeAttribute(null=True)  # the tag set they were last given (provisioning.tag_set)
    # The end (epoch seconds) of its latest run that ended other than SUCCESS: raised by ingest at each such end,
    # first set by the notifier from a history it read (0: none in it; absent: not known yet). A success after the
    # latest decided one, with no such end after that, closes no incident: its notice needs no history
    # (mwaa_obs.alerting.closes_nothing).
    failed_through = NumberAttribute(null=True)


class VersionTaskAttribute(MapAttribute[str, Any]):
    """One task of a version's definition: what the graph view draws (mwaa_obs.graph.GraphTask)."""

    task_id = UnicodeAttribute()
    upstream = ListAttribute(of=UnicodeAttribute, null=True)
    operator = UnicodeAttribute(null=True)


class WorkflowVersionItem(Entity, discriminator="version"):
    """One version of a workflow's definition, read once from GetWorkflow: its tasks and their dependencies (the
    rest of the definition is not kept). Versions are immutable, so the item is written once and never expires."""

    described_at = UTCDateTimeAttribute(null=True)  # when GetWorkflow was read for it
    created_at = UTCDateTimeAttribute(null=True)  # the version's ModifiedAt in GetWorkflow: when it was made
    tasks = ListAttribute(of=VersionTaskAttribute, null=True)
    unreadable = UnicodeAttribute(null=True)  # why no tasks could be read from the definition

    @property
    def version(self) -> str:
        return self.sk.removeprefix("VERSION#")


class AlertRecord(MapAttribute[str, Any]):
    """alerting.Decision as stored on the run (or task attempt) it was made for; set once."""

    kind = UnicodeAttribute()
    decided_at = UTCDateTimeAttribute()
    failed_runs = NumberAttribute(default=0)
    failing_since = UTCDateTimeAttribute(null=True)
    grouped = NumberAttribute(default=0)
    superseded = BooleanAttribute(default=False)
    # Decided from the history by end time, naming failures with named_in. A record without it was decided by an
    # earlier version, which told each failure by itself or by count: such a failure counts as named.
    by_end_time = BooleanAttribute(null=True)


class StateItem(Entity):
    """What runs and task attempts share: the current status and the times derived from their transitions."""

    status = UnicodeAttribute(null=True)
    status_rank = NumberAttribute(null=True)
    queued_at = UTCDateTimeAttribute(null=True)
    started_at = UTCDateTimeAttribute(null=True)
    ended_at = UTCDateTimeAttribute(null=True)
    error_message = UnicodeAttribute(null=True)
    alert = AlertRecord(null=True)
    notified_email = UTCDateTimeAttribute(null=True)
    notified_slack = UTCDateTimeAttribute(null=True)
    # The delivery lease: one notifier at a time sends the message this item leads (mwaa_obs.store.alerts.Lease).
    sending_by = UnicodeAttribute(null=True)
    sending_until = NumberAttribute(null=True)  # epoch seconds: past it, the holder is known to have ended
    enriched = UnicodeAttribute(null=True)  # the status at which missing fields were last asked of the API

    @property
    def run_id(self) -> str:
        return self.pk.split("#", 2)[2]

    def seen(self) -> dict[str, datetime]:
        """The transition history: each state seen, with the time it happened."""
        states = RUN_RANK if isinstance(self, RunItem) else TASK_RANK
        found = {state: getattr(self, seen_attribute(state)) for state in states}
        return {state: at for state, at in found.items() if at is not None}


# The seen_<state> attributes below are the transition history, one per ranked state of states.RunState /
# TaskState (tests/unit/test_vocabulary.py checks that they match).
class RunItem(StateItem, discriminator="run"):
    run_type = UnicodeAttribute(null=True)
    workflow_version = UnicodeAttribute(null=True)  # shown by `mwaa-obs runs show`
    # A failed run is named in exactly one message: the run that leads it, and whether it was told as still open.
    named_in = UnicodeAttribute(null=True)
    named_open = BooleanAttribute(null=True)
    workflow_noted = BooleanAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    # Set when the reconciler found the run in the API with no event stored: its events never came.
    discovered_at = UTCDateTimeAttribute(null=True)
    seen_starting = UTCDateTimeAttribute(null=True)
    seen_queued = UTCDateTimeAttribute(null=True)
    seen_running = UTCDateTimeAttribute(null=True)
    seen_stopping = UTCDateTimeAttribute(null=True)
    seen_success = UTCDateTimeAttribute(null=True)
    seen_failed = UTCDateTimeAttribute(null=True)
    seen_timeout = UTCDateTimeAttribute(null=True)
    seen_stopped = UTCDateTimeAttribute(null=True)
    # From CloudTrail (mwaa_obs.api_calls): who started the run on demand, who stopped it, and when
    triggered_by = UnicodeAttribute(null=True)
    triggered_at = UTCDateTimeAttribute(null=True)
    stopped_by = UnicodeAttribute(null=True)
    stopped_at = UTCDateTimeAttribute(null=True)


class TaskAttemptItem(StateItem, discriminator="task"):
    task_id = UnicodeAttribute(null=True)
    task_instance_id = UnicodeAttribute(null=True)
    operator = UnicodeAttribute(null=True)
    log_stream = UnicodeAttribute(null=True)
    seen_scheduled = UTCDateTimeAttribute(null=True)
    seen_queued = UTCDateTimeAttribute(null=True)
    seen_running = UTCDateTimeAttribute(null=True)
    seen_up_for_reschedule = UTCDateTimeAttribute(null=True)
    seen_deferred = UTCDateTimeAttribute(null=True)
    seen_restarting = UTCDateTimeAttribute(null=True)
    seen_success = UTCDateTimeAttribute(null=True)
    seen_failed = UTCDateTimeAttribute(null=True)
    seen_up_for_retry = UTCDateTimeAttribute(null=True)
    seen_upstream_failed = UTCDateTimeAttribute(null=True)
    seen_timeout = UTCDateTimeAttribute(null=True)
    seen_cancelled = UTCDateTimeAttribute(null=True)
    seen_removed = UTCDateTimeAttribute(null=True)

    @property
    def task_key(self) -> str:
        """The task id, or the task instance id where an event named no task id (mwaa_obs.events); an item written
        before attempts were keyed by task id may hold its instance id here and its task id in `task_id`."""
        return self.sk.removeprefix("TASK#").rsplit("#", 1)[0]

    @property
    def attempt(self) -> int:
        return int(self.sk.rsplit("#", 1)[1])


class WorkflowChangeItem(Entity, discriminator="change"):
    """A CreateWorkflow, UpdateWorkflow or DeleteWorkflow call, from CloudTrail: in the workflow's partition, sorted
    by time (`CHANGE#<time>#<event id>`), one item per call however often its event arrives."""

    call = UnicodeAttribute()
    changed_by = UnicodeAttribute()
    changed_at = UTCDateTimeAttribute()
    workflow_version = UnicodeAttribute(null=True)


def change_sort_key(at: str, event_id: str) -> str:
    return f"{CHANGE_PREFIX}{at}#{event_id}"


class RetryHourItem(Entity, discriminator="retries"):
    """One workflow's task retries in one UTC clock hour, counted at ingest for the retry-storm decision
    (mwaa_obs.store.retries): which attempts went up for retry, up to its threshold plus one, and which of them
    decided the storm."""

    attempts = UnicodeSetAttribute(null=True)  # a short digest per attempt (run, task, try)
    storm_by = UnicodeAttribute(null=True)  # the attempt whose retry passed the threshold: RetryStorm was owed once


class SampleRecord(MapAttribute[str, Any]):
    """One event ingest could not store, as it arrived (cut to MAX_SAMPLE_CHARACTERS), and why."""

    received_at = UTCDateTimeAttribute()
    reason = UnicodeAttribute()
    body = UnicodeAttribute()


class EventSampleItem(Entity, discriminator="sample"):
    """The first few events of one kind (invalid, unknown) and detail-type on one UTC day."""

    samples = ListAttribute(of=SampleRecord, null=True)

    @property
    def sample_kind(self) -> str:
        return self.sk.split("#", 1)[0]

    @property
    def detail_type(self) -> str:
        return self.sk.split("#", 1)[1]


def item_from_raw(raw: dict[str, Any]) -> Entity:
    """The model of a raw DynamoDB item (its `kind` picks the class)."""
    return Entity.from_raw_data(raw)
