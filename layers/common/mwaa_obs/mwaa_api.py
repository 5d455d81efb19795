"""The MWAA Serverless API, read-only: the source of truth that enrichment, the reconciler and backfill consult.

Every call goes through one botocore client with adaptive retries (client-side rate limiting plus backoff on
ThrottlingException) and paginators for the List operations. Answers are read once, here, into typed records
(field names as in the service model); the rest of the pipeline never sees the raw dicts. The model is that of the
botocore the layer pins (layers/common/requirements.txt), never the runtime's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from botocore.config import Config
from botocore.exceptions import ClientError

from mwaa_obs import PRODUCT
from mwaa_obs.aws import LazyClient, aws_config, aws_session
from mwaa_obs.config import ReaderRole
from mwaa_obs.events import Place, place_of
from mwaa_obs.times import parse_time

SERVICE_NAME: Final = "mwaa-serverless"
PAGE_SIZE: Final = 100  # the service's maximum MaxResults
# Assumed credentials are renewed this long before they expire (AssumeRole's default lifetime is an hour).
CREDENTIALS_MARGIN_SECONDS: Final = 600


def api_client(
    max_attempts: int = 8, *, region: str | None = None, credentials: Mapping[str, Any] | None = None
) -> Any:
    """A client of the API in `region` (default: the function's own), signed with `credentials` (AssumeRole's
    Credentials; default: the function's own)."""
    session = aws_session()
    config = aws_config().merge(Config(retries={"mode": "adaptive", "max_attempts": max_attempts}))
    keys = (
        {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }
        if credentials
        else {}
    )
    return session.create_client(SERVICE_NAME, region_name=region, config=config, **keys)


def reader_role_arn(role: ReaderRole, place: Place) -> str:
    """The reader role the forwarder stack of `place` created (forwarder/template.yaml: `<name>-<region>`)."""
    partition = aws_session().get_partition_for_region(place.region)
    return f"arn:{partition}:iam::{place.account}:role/{role.name}-{place.region}"


def everywhere_api(home: Place, role: ReaderRole) -> MwaaApi:
    """The API of every place, as the functions ask it: home with their own role, elsewhere through the reader role
    (STS's client made at the first call away from home: a single-account stack never pays for it)."""
    return MwaaApi(api_client(), ReaderClients(home, role, LazyClient("sts"), time.time))


class ReaderClients:
    """Clients for the places other than home: each signed with the reader role assumed there (renewed before it
    expires), in that place's region; the API's (`client_for`) and any other service's the role may call
    (`client_of`: the task logs)."""

    def __init__(self, home: Place, role: ReaderRole, sts: Any, clock: Callable[[], float]) -> None:
        self.home = home
        self._role = role
        self._sts = sts
        self._clock = clock
        self._credentials: dict[Place, Mapping[str, Any]] = {}
        self._clients: dict[tuple[Place, str], tuple[Mapping[str, Any], Any]] = {}

    def client_for(self, place: Place) -> Any:
        return self._client(place, SERVICE_NAME, lambda keys: api_client(region=place.region, credentials=keys))

    def client_of(self, service: str, place: Place, config: Config) -> Any:
        def made(keys: Mapping[str, Any]) -> Any:
            return aws_session().create_client(
                service,
                region_name=place.region,
                config=config,
                aws_access_key_id=keys["AccessKeyId"],
                aws_secret_access_key=keys["SecretAccessKey"],
                aws_session_token=keys["SessionToken"],
            )

        return self._client(place, service, made)

    def _client(self, place: Place, service: str, make: Callable[[Mapping[str, Any]], Any]) -> Any:
        credentials = self._credentials_for(place)
        cached = self._clients.get((place, service))
        if cached is not None and cached[0] is credentials:
            return cached[1]
        client = make(credentials)
        self._clients[(place, service)] = (credentials, client)
        return client

    def _credentials_for(self, place: Place) -> Mapping[str, Any]:
        cached = self._credentials.get(place)
        if cached is not None and cached["Expiration"].timestamp() - CREDENTIALS_MARGIN_SECONDS > self._clock():
            return cached
        credentials: Mapping[str, Any] = self._sts.assume_role(
            RoleArn=reader_role_arn(self._role, place), RoleSessionName=PRODUCT, ExternalId=self._role.external_id
        )["Credentials"]
        self._credentials[place] = credentials
        return credentials


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class WorkflowSummary:
    """One entry of ListWorkflows."""

    arn: str
    name: str
    modified_at: datetime | None

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> WorkflowSummary:
        arn = raw["WorkflowArn"]
        return cls(arn, _text(raw.get("Name")) or arn.rsplit("/", 1)[1], parse_time(raw.get("ModifiedAt")))


@dataclass(frozen=True, slots=True)
class WorkflowAnswer:
    """GetWorkflow: what the pipeline keeps of a workflow's description."""

    arn: str
    schedule: str | None  # cron expression; None: runs only on demand
    trigger_mode: str | None
    log_group: str | None
    status: str | None
    modified_at: datetime | None
    version: str | None = None  # the version described (the latest, as asked)
    definition: str | None = None  # its DAG-factory YAML: the graph view's tasks and dependencies

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> WorkflowAnswer:
        return cls(
            arn=raw["WorkflowArn"],
            schedule=_text((raw.get("ScheduleConfiguration") or {}).get("CronExpression")),
            trigger_mode=_text(raw.get("TriggerMode")),
            log_group=_text((raw.get("LoggingConfiguration") or {}).get("LogGroupName")),
            status=_text(raw.get("WorkflowStatus")),
            modified_at=parse_time(raw.get("ModifiedAt")),
            version=_text(raw.get("WorkflowVersion")),
            definition=_text(raw.get("WorkflowDefinition")),
        )


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One entry of ListWorkflowRuns."""

    run_id: str
    created_at: datetime | None  # CreatedOn, else StartedAt
    status: str | None = None
    run_type: str | None = None
    workflow_version: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> RunSummary:
        summary = raw.get("RunDetailSummary") or {}
        return cls(
            raw["RunId"],
            parse_time(summary.get("CreatedOn")) or parse_time(summary.get("StartedAt")),
            status=_text(summary.get("Status")),
            run_type=_text(raw.get("RunType")),
            workflow_version=_text(raw.get("WorkflowVersion")),
            started_at=parse_time(summary.get("StartedAt")),
            ended_at=parse_time(summary.get("EndedAt")),
        )

    def as_answer(self) -> RunAnswer:
        """What the listing says of the run, in GetWorkflowRun's terms (no error message: the listing has none)."""
        return RunAnswer(
            run_id=self.run_id,
            state=self.status,
            run_type=self.run_type,
            workflow_version=self.workflow_version,
            created_at=self.created_at,
            started_at=self.started_at,
            ended_at=self.ended_at,
        )


@dataclass(frozen=True, slots=True)
class RecentRuns:
    """A workflow's runs created since a time, as far as a bounded listing could tell."""

    runs: list[RunSummary]
    complete: bool  # False: the page bound was reached before a run older than `since` was seen
    newest_first: bool  # the order the listing came in (the API does not document it)


@dataclass(frozen=True, slots=True)
class RunAnswer:
    """GetWorkflowRun (identity from the answer, state and times from its RunDetail)."""

    run_id: str
    state: str | None
    run_type: str | None = None
    workflow_version: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    modified_at: datetime | None = None
    error_message: str | None = None

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> RunAnswer:
        detail = raw.get("RunDetail") or {}
        return cls(
            run_id=raw.get("RunId") or detail["RunId"],
            state=_text(detail.get("RunState")),
            run_type=_text(raw.get("RunType") or detail.get("RunType")),
            workflow_version=_text(raw.get("WorkflowVersion") or detail.get("WorkflowVersion")),
            created_at=parse_time(detail.get("CreatedAt")),
            started_at=parse_time(detail.get("StartedOn")),
            ended_at=parse_time(detail.get("CompletedOn")),
            modified_at=parse_time(detail.get("ModifiedAt")),
            error_message=_text(detail.get("ErrorMessage")),
        )


@dataclass(frozen=True, slots=True)
class TaskSummary:
    """One entry of ListTaskInstances."""

    task_instance_id: str | None
    status: str | None

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> TaskSummary:
        return cls(_text(raw.get("TaskInstanceId")), _text(raw.get("Status")))


@dataclass(frozen=True, slots=True)
class TaskAnswer:
    """GetTaskInstance: the task instance's latest attempt (the API describes no earlier one)."""

    task_instance_id: str
    run_id: str | None
    task_id: str | None
    status: str | None
    attempt: int | None
    operator: str | None = None
    workflow_version: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    modified_at: datetime | None = None
    error_message: str | None = None
    log_stream: str | None = None

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> TaskAnswer:
        attempt = raw.get("AttemptNumber")
        return cls(
            task_instance_id=raw["TaskInstanceId"],
            run_id=_text(raw.get("RunId")),
            task_id=_text(raw.get("TaskId")),
            status=_text(raw.get("Status")),
            attempt=attempt if isinstance(attempt, int) and not isinstance(attempt, bool) else None,
            operator=_text(raw.get("OperatorName")),
            workflow_version=_text(raw.get("WorkflowVersion")),
            started_at=parse_time(raw.get("StartedAt")),
            ended_at=parse_time(raw.get("EndedAt")),
            modified_at=parse_time(raw.get("ModifiedAt")),
            error_message=_text(raw.get("ErrorMessage")),
            log_stream=_text(raw.get("LogStream")),
        )


class MwaaApi:
    """The few reads the pipeline needs; a resource that no longer exists reads as None.

    Each call about a workflow goes to the workflow's own account and region (its ARN's): through `client` at
    home, through `elsewhere` anywhere else. Without `elsewhere`, every call goes through `client`.
    """

    def __init__(self, client: Any, elsewhere: ReaderClients | None = None) -> None:
        self._client = client
        self._elsewhere = elsewhere

    @property
    def home(self) -> Place | None:
        return self._elsewhere.home if self._elsewhere else None

    def _for(self, place: Place | None) -> Any:
        if self._elsewhere is None or place is None or place == self._elsewhere.home:
            return self._client
        return self._elsewhere.client_for(place)

    def _at(self, workflow_arn: str) -> Any:
        return self._for(place_of(workflow_arn))

    def workflows(self, place: Place | None = None) -> Iterator[WorkflowSummary]:
        """The workflows of `place` (default: home)."""
        paginator = self._for(place).get_paginator("list_workflows")
        for page in paginator.paginate(PaginationConfig={"PageSize": PAGE_SIZE}):
            yield from map(WorkflowSummary.from_api, page.get("Workflows", []))

    def workflow(self, workflow_arn: str, version: str | None = None) -> WorkflowAnswer | None:
        """GetWorkflow: the latest version, or the one named."""
        named = {"WorkflowVersion": version} if version is not None else {}
        found = self._get("get_workflow", workflow_arn, WorkflowArn=workflow_arn, **named)
        return WorkflowAnswer.from_api(found) if found is not None else None

    def versions(self, workflow_arn: str) -> Iterator[str]:
        """ListWorkflowVersions: the workflow's version ids (an empty listing for a workflow the service lacks)."""
        paginator = self._at(workflow_arn).get_paginator("list_workflow_versions")
        for page in paginator.paginate(WorkflowArn=workflow_arn, PaginationConfig={"PageSize": PAGE_SIZE}):
            yield from (entry["WorkflowVersion"] for entry in page.get("WorkflowVersions", []))

    def runs(self, workflow_arn: str) -> Iterator[RunSummary]:
        paginator = self._at(workflow_arn).get_paginator("list_workflow_runs")
        for page in paginator.paginate(WorkflowArn=workflow_arn, PaginationConfig={"PageSize": PAGE_SIZE}):
            yield from map(RunSummary.from_api, page.get("WorkflowRuns", []))

    def recent_runs(self, workflow_arn: str, since: datetime, max_pages: int) -> RecentRuns:
        """The runs created since `since`, reading at most `max_pages` pages. The listing's order is not
        documented: it stops early at the first older run only while the runs come newest first."""
        found: list[RunSummary] = []
        newest_first = True
        previous: datetime | None = None
        pages = (
            self._at(workflow_arn)
            .get_paginator("list_workflow_runs")
            .paginate(WorkflowArn=workflow_arn, PaginationConfig={"PageSize": PAGE_SIZE})
        )
        for number, page in enumerate(pages, start=1):
            older_seen = False
            for summary in map(RunSummary.from_api, page.get("WorkflowRuns", [])):
                created = summary.created_at
                if created is not None and previous is not None and created > previous:
                    newest_first = False
                previous = created or previous
                if created is None or created >= since:
                    found.append(summary)
                else:
                    older_seen = True
            if (older_seen and newest_first) or "NextToken" not in page:
                return RecentRuns(found, True, newest_first)
            if number >= max_pages:
                return RecentRuns(found, False, newest_first)
        return RecentRuns(found, True, newest_first)

    def run(self, workflow_arn: str, run_id: str) -> RunAnswer | None:
        found = self._get("get_workflow_run", workflow_arn, WorkflowArn=workflow_arn, RunId=run_id)
        return RunAnswer.from_api(found) if found is not None else None

    def tasks(self, workflow_arn: str, run_id: str) -> list[TaskSummary]:
        paginator = self._at(workflow_arn).get_paginator("list_task_instances")
        pages = paginator.paginate(WorkflowArn=workflow_arn, RunId=run_id, PaginationConfig={"PageSize": PAGE_SIZE})
        try:
            return [TaskSummary.from_api(task) for page in pages for task in page.get("TaskInstances", [])]
        except ClientError as error:
            if _not_found(error):
                return []
            raise

    def task(self, workflow_arn: str, run_id: str, task_instance_id: str) -> TaskAnswer | None:
        found = self._get(
            "get_task_instance", workflow_arn, WorkflowArn=workflow_arn, RunId=run_id, TaskInstanceId=task_instance_id
        )
        return TaskAnswer.from_api(found) if found is not None else None

    def _get(self, operation: str, workflow_arn: str, **request: str) -> dict[str, Any] | None:
        try:
            answer: dict[str, Any] = getattr(self._at(workflow_arn), operation)(**request)
        except ClientError as error:
            if _not_found(error):
                return None
            raise
        return answer


def _not_found(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ResourceNotFoundException"
