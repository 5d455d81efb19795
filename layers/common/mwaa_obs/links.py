"""Where a person goes next: the AWS console's pages of a workflow and its task logs, and the CLI command that
shows a run (in messages and in the runs widget)."""

from __future__ import annotations

import shlex
from urllib.parse import quote

from mwaa_obs import DEFAULT_STACK_NAME
from mwaa_obs.events import service_workflow_id


def workflows_console_url(region: str) -> str:
    # The console's run pages have no published address; this is the documented workflows page.
    return f"https://{region}.console.aws.amazon.com/mwaa/home?region={region}#serverlessWorkflows"


def runs_show_command(run_id: str, workflow_name: str, stack_name: str) -> str:
    stack = "" if stack_name == DEFAULT_STACK_NAME else f" --stack-name {shlex.quote(stack_name)}"
    return f"mwaa-obs runs show {shlex.quote(run_id)} --workflow {shlex.quote(workflow_name)}{stack}"


def logs_command(run_id: str, task_id: str, attempt: int, workflow_name: str, stack_name: str) -> str:
    stack = "" if stack_name == DEFAULT_STACK_NAME else f" --stack-name {shlex.quote(stack_name)}"
    return (
        f"mwaa-obs logs {shlex.quote(run_id)} {shlex.quote(task_id)} --attempt {attempt} "
        f"--workflow {shlex.quote(workflow_name)}{stack}"
    )


def task_log_group(workflow_id: str) -> str:
    """The service's default log group of a workflow's tasks (a workflow may name its own: LoggingConfiguration)."""
    return f"/aws/mwaa-serverless/{service_workflow_id(workflow_id)}/"


def task_log_stream(workflow_id: str, run_id: str, task_id: str, attempt: int) -> str:
    return f"workflow_id={service_workflow_id(workflow_id)}/run_id={run_id}/task_id={task_id}/attempt={attempt}.log"


def stream_name(stored: str) -> str:
    """The stream's own name from GetTaskInstance's LogStream, which one version of the user guide shows prefixed
    by its group (`//aws/mwaa-serverless/<id>//workflow_id=...`, docs/EVENTS.md)."""
    if stored.startswith("/") and "/workflow_id=" in stored:
        return stored[stored.index("/workflow_id=") + 1 :]
    return stored


def _console_path_part(text: str) -> str:
    """The CloudWatch console's fragment encoding: URL-encode everything, then write each % as $25."""
    return quote(text, safe="").replace("%", "$25")


def log_group_url(region: str, group: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logsV2:log-groups/log-group/{_console_path_part(group)}"
    )


def log_stream_url(region: str, group: str, stream: str) -> str:
    return f"{log_group_url(region, group)}/log-events/{_console_path_part(stream)}"
