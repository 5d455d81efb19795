"""What a message says, whatever the channel: the alert, its failed tasks and the other failures it names, and
the phrases every channel words the same way (each channel wraps the untrusted parts in its own markup)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from mwaa_obs import DEFAULT_STACK_NAME
from mwaa_obs.alerting import AlertKind
from mwaa_obs.failures import failed_at
from mwaa_obs.links import log_group_url, runs_show_command, task_log_group, workflows_console_url
from mwaa_obs.states import FAILED_RUN_STATES, RUN_OUTCOME_WORDS, TASK_CUT_SHORT_WORDS, RunState
from mwaa_obs.task_logs import LogRef, LogTail
from mwaa_obs.text import counted, first_line
from mwaa_obs.times import human_duration, readable_time

MAX_TASKS_SHOWN: Final = 10
MAX_INCIDENT_RUNS_LISTED: Final = 10
MAX_NAMED_TASKS: Final = 3  # failed tasks listed for each other run a message names
MAX_LOG_TAILS: Final = 3  # failed tasks of a message shown with their last log lines (one GetLogEvents each)
MAX_NAMED_LOG_TAILS: Final = 2  # other failures a message names shown with their first failed task's last lines
TASK_ERROR_LIMIT: Final = 1200


@dataclass(frozen=True, slots=True)
class FailedTask:
    task_id: str
    attempt: int
    status: str
    operator: str | None
    error_message: str | None
    log_url: str
    log: LogRef | None = None  # where its log is, to read its tail
    log_tail: LogTail | None = None  # its last lines, or why there are none; None: not read


@dataclass(frozen=True, slots=True)
class NamedRun:
    """Another failed run a message names (one it had not been told before), with its failed tasks."""

    run_id: str
    status: str
    ended_at: datetime | None
    recovered: bool  # a later run of the workflow had already succeeded
    failed_tasks: tuple[str, ...] = ()
    error: str | None = None
    log_attempt: tuple[str, int] | None = None  # the task and attempt that broke it first, whose log it shows
    log: LogRef | None = None  # where that attempt's log is
    log_tail: LogTail | None = None  # its last lines, or why there are none; None: not read


@dataclass(frozen=True, slots=True)
class Alert:
    """Everything a message says, whatever the channel."""

    kind: AlertKind
    workflow_name: str
    workflow_id: str
    workflow_arn: str
    region: str
    run_id: str
    status: str
    run_type: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error_message: str | None = None
    failed_tasks: tuple[FailedTask, ...] = ()
    cut_short: tuple[tuple[str, int], ...] = ()  # task states that ended without failing the run, with their counts
    failed_runs: int = 0
    failing_since: datetime | None = None
    grouped: int = 0
    superseded: bool = False
    team: str = ""
    severity: str = "high"
    mention: str = ""
    stack_name: str = DEFAULT_STACK_NAME
    retry_task: FailedTask | None = None
    log_group: str = ""  # where the workflow's task logs go (its own, or the service's default)
    named: tuple[NamedRun, ...] = ()  # the other failures this message names
    incident_runs: tuple[str, ...] = ()  # a resolved message: the runs of the incident it closes, by end time
    change: str | None = None  # the definition change the failure follows (mwaa_obs.changes), from CloudTrail

    @property
    def duration(self) -> str | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return human_duration((self.ended_at - self.started_at).total_seconds())

    @property
    def names_failed_task(self) -> bool:
        """A failure message whose headline names the task that broke the run first, and why ("orders_etl failed
        at load: KeyError 'id'"), as the email subject and the Slack header do."""
        return self.kind is AlertKind.FAILURE and self.status in FAILED_RUN_STATES and bool(self.failed_tasks)

    @property
    def headline(self) -> str:
        if self.kind is AlertKind.RECOVERY:
            return f"Resolved: {self.workflow_name} is succeeding again"
        if self.kind is AlertKind.SUMMARY:
            runs = 1 + len(self.named)
            return f"{runs} failed run{'s' if runs != 1 else ''} held back: {self.workflow_name}"
        if self.kind is AlertKind.RETRY and self.retry_task is not None:
            return f"Retrying: {self.workflow_name} task {self.retry_task.task_id} (attempt {self.retry_task.attempt})"
        word = RUN_OUTCOME_WORDS.get(self.status, self.status)
        if self.names_failed_task:
            first = self.failed_tasks[0]
            more = len(self.failed_tasks) - 1
            beyond = f" (and {counted(more, 'more failed task')})" if more else ""
            return f"{self.workflow_name} {word} at {failed_at(first.task_id, first.error_message)}{beyond}"
        return f"Run {word}: {self.workflow_name}"

    @property
    def tasks_with_logs(self) -> tuple[FailedTask, ...]:
        """The tasks a message shows with their last log lines: a failure's first failed ones, a retry's attempt."""
        if self.kind in (AlertKind.FAILURE, AlertKind.SUMMARY):
            return self.failed_tasks[:MAX_LOG_TAILS]
        if self.kind is AlertKind.RETRY and self.retry_task is not None:
            return (self.retry_task,)
        return ()

    @property
    def named_with_logs(self) -> tuple[NamedRun, ...]:
        """The other failures a message shows with the last log lines of the task that broke each first."""
        return tuple(named for named in self.named if named.log is not None)[:MAX_NAMED_LOG_TAILS]

    @property
    def console_url(self) -> str:
        return workflows_console_url(self.region)

    @property
    def log_group_url(self) -> str:
        return log_group_url(self.region, self.log_group or task_log_group(self.workflow_id))

    @property
    def cli_command(self) -> str:
        return runs_show_command(self.run_id, self.workflow_name, self.stack_name)

    @property
    def message_severity(self) -> str:
        return {AlertKind.RECOVERY: "info", AlertKind.RETRY: "warning"}.get(self.kind, self.severity)


# --- Phrases every channel shares (`code` / `show` wrap an untrusted run id or task id in the channel's markup) ---


def broken_for(alert: Alert) -> str:
    """How long a resolved incident lasted, in parentheses; nothing if a time is unknown."""
    if alert.failing_since is None or alert.ended_at is None:
        return ""
    return f" ({human_duration((alert.ended_at - alert.failing_since).total_seconds())})"


def recovered_note(recovered: bool) -> str:
    return " (already recovered: a later run succeeded)" if recovered else ""


def incident_list(alert: Alert, show: Callable[[str], str]) -> str:
    listed = ", ".join(show(run_id) for run_id in alert.incident_runs[:MAX_INCIDENT_RUNS_LISTED])
    beyond = len(alert.incident_runs) - MAX_INCIDENT_RUNS_LISTED
    return listed + (f" and {beyond} more" if beyond > 0 else "")


def notes(alert: Alert) -> list[str]:
    """What a failure message adds: the definition change it follows; and what it does not show in full: failed
    tasks beyond the limit, skipped tasks, none recorded."""
    found = [alert.change] if alert.change else []
    hidden = len(alert.failed_tasks) - MAX_TASKS_SHOWN
    if hidden > 0:
        found.append(f"{counted(hidden, 'more failed task')} not shown")
    found += [f"{counted(count, 'task')} {TASK_CUT_SHORT_WORDS[state]}" for state, count in alert.cut_short]
    if not alert.failed_tasks and alert.status != RunState.STOPPED:
        found.append("no failed task recorded for this run")
    return found


def log_tail_title(task: FailedTask) -> str:
    """Over a task's last log lines (plain: each channel adds its markup)."""
    return f"Last log lines of {task.task_id}, attempt {task.attempt}"


def named_log_title(named: NamedRun) -> str:
    """Over the last log lines of another failure a message names (plain: each channel adds its markup)."""
    task, attempt = named.log_attempt or ("?", 0)
    return f"Last log lines of run {named.run_id}: {task}, attempt {attempt}"


def log_tail_note(tail: LogTail) -> str:
    """Why a task's log is not in the message: the link is."""
    return f"Log not shown ({tail.note}): open it with the task log link."


def named_title(alert: Alert) -> str:
    """The title over the other failures a message names (mrkdwn bold: plain channels strip the stars)."""
    count = len(alert.named)
    if alert.kind is AlertKind.SUMMARY:
        return f"*Also held back ({count}):*"
    return f"*{count} more failed run{'s' if count != 1 else ''}, not told before:*"


def named_line(named: NamedRun, code: Callable[[str], str]) -> str:
    tasks = ", ".join(code(task) for task in named.failed_tasks[:MAX_NAMED_TASKS])
    hidden = len(named.failed_tasks) - MAX_NAMED_TASKS
    tasks += f" and {hidden} more" if hidden > 0 else ""
    line = f"{code(named.run_id)} {named.status} at {readable_time(named.ended_at)}{recovered_note(named.recovered)}"
    line += f": {tasks}" if tasks else ""
    if named.error:
        line += f" ({first_line(named.error, 200)})"
    return line
