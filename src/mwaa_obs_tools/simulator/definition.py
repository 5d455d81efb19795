"""Workflow definitions in the declarative DAG-factory YAML that MWAA Serverless accepts.

    simple_s3_test:
      schedule: "0 0 * * *"            # or schedule_interval; absent, null or None: on demand only
      start_date: 2027-01-01           # optional; must be in the future
      default_args: {retries: 1, retry_delay: 60, execution_timeout: 900}
      tasks:
        list_objects:
          operator: airflow.providers.amazon.aws.operators.s3.S3ListOperator
          bucket: amzn-s3-demo-bucket
        create_object_list:
          operator: airflow.providers.amazon.aws.operators.s3.S3CreateObjectOperator
          dependencies: [list_objects]

`tasks` may also be a list of mappings with a `task_id`. Operators: the Amazon provider's, EmptyOperator,
PythonOperator and BashOperator (their code from the workflow's code package), and operator classes the code
package provides (user guide, "Running custom code": https://docs.aws.amazon.com/mwaa/latest/
mwaa-serverless-userguide/custom-code-operators.html). Parameters the service ignores (dagrun_timeout, catchup, ...)
are accepted and listed in `ignored`. Dates and durations may be written as AWS's dag-converter writes them
(definition_values.py). Sensors take `mode: reschedule`, and operators `deferrable: true`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import yaml

from mwaa_obs.cron import Cron, CronError
from mwaa_obs_tools.simulator import definition_values
from mwaa_obs_tools.simulator.definition_values import ValueProblem

if TYPE_CHECKING:
    from mwaa_obs_tools.simulator.code_package import CodePackage

_AMAZON_OPERATOR = re.compile(
    r"^airflow\.providers\.amazon\.aws\.(operators|sensors|transfers)\.[a-z0-9_]+\.[A-Z][A-Za-z0-9]*(Operator|Sensor)$"
)
# The one operator outside the Amazon provider on the service's allow-list (aws-samples/amazon-mwaa-examples,
# serverless/mcp/src/schema.py, SUPPORTED_OPERATORS), at its Airflow 2 and Airflow 3 paths.
EMPTY_OPERATORS = frozenset(
    {"airflow.operators.empty.EmptyOperator", "airflow.providers.standard.operators.empty.EmptyOperator"}
)
# PythonOperator and BashOperator at their Airflow 3 and Airflow 2 paths, each with the parameter it requires (user
# guide, "Running custom code").
PYTHON_OPERATORS = frozenset(
    {"airflow.providers.standard.operators.python.PythonOperator", "airflow.operators.python.PythonOperator"}
)
BASH_OPERATORS = frozenset(
    {"airflow.providers.standard.operators.bash.BashOperator", "airflow.operators.bash.BashOperator"}
)
AMAZON, EMPTY, PYTHON, BASH, CUSTOM = "amazon", "empty", "python", "bash", "custom"  # TaskDefinition.kind
_CALLABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_CLASS_PATH = _CALLABLE

# Sensors (BaseSensorOperator): poke mode holds a worker slot, reschedule mode frees it between pokes
# (UP_FOR_RESCHEDULE); poke_interval and timeout default as in Airflow (60 s, 7 days).
SENSOR_MODES = ("poke", "reschedule")
DEFAULT_POKE_INTERVAL, DEFAULT_SENSOR_TIMEOUT = 60.0, 7 * 24 * 3600.0
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_RESERVED_TOP_LEVEL = {"default"}


class DefinitionError(ValueError):
    """A definition the service would refuse with ValidationException; the message names the file."""


# Task limits and defaults MWAA Serverless applies (its user guide, "Supported Airflow parameters"; written out in
# aws-samples/amazon-mwaa-examples, serverless/mcp/src/constraints.py, VALIDATED_TASK_PARAMS).
MAX_RETRIES, DEFAULT_RETRIES = 3, 1
MAX_RETRY_DELAY, DEFAULT_RETRY_DELAY = 300, 300
MAX_EXECUTION_TIMEOUT, DEFAULT_EXECUTION_TIMEOUT = 3600, 3600

# Parameters the service accepts and ignores (same sources: IGNORED_DAG_PARAMS, IGNORED_TASK_PARAMS). The simulator
# ignores them too and says which in WorkflowDefinition.ignored.
IGNORED_DAG_PARAMS = frozenset(
    {"template_searchpath", "template_undefined", "user_defined_macros", "user_defined_filters", "catchup"}
    | {"access_control", "jinja_environment_kwargs", "render_template_as_native_obj", "tags", "owner_links"}
    | {"auto_register", "fail_fast", "dag_display_name", "depends_on_past", "email_on_failure", "email_on_retry"}
    | {"description", "max_consecutive_failed_dag_runs", "dagrun_timeout", "sla_miss_callback"}
    | {"on_failure_callback", "on_success_callback", "is_paused_upon_creation"}
)
IGNORED_TASK_PARAMS = frozenset(
    {"email_on_retry", "email_on_failure", "retry_exponential_backoff", "depends_on_past"}
    | {"ignore_first_depends_on_past", "wait_for_downstream", "priority_weight", "sla", "max_active_tis_per_dag"}
    | {"max_active_tis_per_dagrun", "task_concurrency", "resources", "run_as_user", "executor_config", "doc"}
    | {"doc_md", "doc_rst", "doc_json", "doc_yaml", "task_display_name", "logger_name", "allow_nested_operators"}
    | {"inlets", "outlets", "map_index_template", "email", "owner", "max_retry_delay", "on_execute_callback"}
    | {"on_failure_callback", "on_success_callback", "on_retry_callback", "on_skipped_callback"}
    | {"wait_for_past_depends_before_skipping", "do_xcom_push", "multiple_outputs", "start_date", "end_date"}
    | {"weight_rule", "queue", "pool", "pool_slots", "pre_execute", "post_execute", "executor", "task_group"}
)

# "On demand": absent, null, or the bare word None as the AWS dag-converter writes it (a string to YAML). The
# service schedules by cron (ScheduleConfiguration.CronExpression, "standard cron syntax"); Airflow's "@once" has
# no cron form, so it is refused rather than guessed at.
UNSCHEDULED = frozenset({"None", "none", "null", ""})
NO_CRON_FORM = frozenset({"@once", "@continuous"})

# Airflow's trigger rules (airflow.utils.trigger_rule.TriggerRule) that the simulator runs; the engine decides them.
TRIGGER_RULES = (
    "all_success",
    "all_failed",
    "all_done",
    "one_success",
    "one_failed",
    "none_failed",
    "none_skipped",
    "always",
)


@dataclass(frozen=True)
class TaskDefinition:
    task_id: str
    operator: str
    dependencies: tuple[str, ...]
    retries: int
    retry_delay: float
    execution_timeout: float
    trigger_rule: str = "all_success"
    templates: tuple[str, ...] = ()  # the Jinja templates among its parameters, rendered when the task runs
    kind: str = AMAZON
    reference: str | None = None  # a PythonOperator's python_callable, a BashOperator's bash_command
    mode: str = "poke"  # a sensor's
    deferrable: bool = False
    poke_interval: float = DEFAULT_POKE_INTERVAL
    sensor_timeout: float = DEFAULT_SENSOR_TIMEOUT

    @property
    def operator_name(self) -> str:
        return self.operator.rsplit(".", 1)[1]

    @property
    def is_sensor(self) -> bool:
        return self.operator_name.endswith("Sensor")


@dataclass(frozen=True)
class WorkflowDefinition:
    name: str
    schedule: str | None
    tasks: tuple[TaskDefinition, ...]  # in an order where every task follows its dependencies
    text: str
    start_date: datetime | None = None  # no scheduled run before it
    end_date: datetime | None = None  # nor after it
    ignored: tuple[str, ...] = ()  # the parameters given that the service ignores, e.g. "dagrun_timeout"

    def task(self, task_id: str) -> TaskDefinition:
        return next(task for task in self.tasks if task.task_id == task_id)


def parse_definition(
    text: str, source: str, now: datetime | None = None, code: CodePackage | None = None
) -> WorkflowDefinition:
    """Parse and validate one workflow; `source` (a file name or S3 key) prefixes every error. With `now`, a
    start_date must lie after it, as the service requires of a definition it is given; `code`: the workflow's code
    package, which may provide operator classes."""
    try:
        document = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise DefinitionError(f"{source}: invalid YAML: {where}{error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise DefinitionError(f"{source}: invalid YAML: {error}") from None
    if not isinstance(document, dict):
        raise DefinitionError(f"{source}: the definition must be a mapping of workflow name to workflow")
    workflows = {key: value for key, value in document.items() if key not in _RESERVED_TOP_LEVEL}
    if len(workflows) != 1:
        raise DefinitionError(f"{source}: expected exactly one workflow, found {len(workflows)}")
    ((key, body),) = workflows.items()
    if not isinstance(body, dict):
        raise DefinitionError(f"{source}: workflow {key!r} must be a mapping")
    name = str(body.get("dag_id", key))
    if not _NAME.match(name):
        raise DefinitionError(f"{source}: workflow name {name!r} must be 1-64 letters, digits, '_', '.' or '-'")
    defaults = body.get("default_args") or {}
    schedule = body.get("schedule", body.get("schedule_interval"))
    if str(schedule).strip() in UNSCHEDULED:
        schedule = None
    if str(schedule).strip() in NO_CRON_FORM:
        raise DefinitionError(
            f"{source}: schedule {schedule!r} has no cron form; MWAA Serverless takes a cron expression, "
            "or no schedule (null) for a workflow run on demand"
        )
    if schedule is not None:
        try:
            Cron.parse(str(schedule))
        except CronError as error:
            raise DefinitionError(f"{source}: schedule: {error}") from None
    start_date, end_date = _date(source, "start_date", body), _date(source, "end_date", body)
    if start_date is not None and now is not None and start_date <= now:
        raise DefinitionError(f"{source}: start_date {start_date:%Y-%m-%d %H:%M} must be in the future")
    if start_date is not None and end_date is not None and end_date < start_date:
        raise DefinitionError(f"{source}: end_date must be after or equal to start_date")
    specs = _task_specs(source, body.get("tasks"))
    tasks = [_task(source, task_id, spec, defaults, code) for task_id, spec in specs]
    ignored = sorted(IGNORED_DAG_PARAMS & body.keys()) + sorted(
        {key for _, spec in specs for key in IGNORED_TASK_PARAMS & spec.keys()}
        | (IGNORED_TASK_PARAMS & defaults.keys())
    )
    return WorkflowDefinition(
        name=name,
        schedule=None if schedule is None else str(schedule),
        tasks=_in_dependency_order(source, tasks),
        text=text,
        start_date=start_date,
        end_date=end_date,
        ignored=tuple(ignored),
    )


def _date(source: str, field: str, body: dict[str, Any]) -> datetime | None:
    """A DAG-level date in UTC (definition_values.when)."""
    try:
        return definition_values.when(body.get(field))
    except ValueProblem as problem:
        raise DefinitionError(f"{source}: {field} {problem}") from None


def _task_specs(source: str, tasks: Any) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(tasks, dict) and tasks:
        items = list(tasks.items())
    elif isinstance(tasks, list) and tasks:
        items = [(spec.get("task_id"), spec) if isinstance(spec, dict) else (None, spec) for spec in tasks]
    else:
        raise DefinitionError(f"{source}: 'tasks' must be a non-empty mapping or list")
    for task_id, spec in items:
        if not isinstance(task_id, str) or not _NAME.match(task_id) or not isinstance(spec, dict):
            raise DefinitionError(f"{source}: task {task_id!r} must have a name and a mapping of settings")
    return items


def _task(
    source: str, task_id: str, spec: dict[str, Any], defaults: dict[str, Any], code: CodePackage | None
) -> TaskDefinition:
    kind, reference = _operator(source, task_id, spec, code)
    dependencies = spec.get("dependencies", [])
    if not isinstance(dependencies, list) or not all(isinstance(item, str) for item in dependencies):
        raise DefinitionError(f"{source}: task {task_id!r}: dependencies must be a list of task names")
    retries = spec.get("retries", defaults.get("retries", DEFAULT_RETRIES))
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
        raise DefinitionError(f"{source}: task {task_id!r}: retries must be a whole number from 0 to {MAX_RETRIES}")

    def seconds(field: str) -> float | None:
        try:
            return definition_values.seconds(spec.get(field, defaults.get(field)))
        except ValueProblem as problem:
            raise DefinitionError(f"{source}: task {task_id!r}: {field} {problem}") from None

    retry_delay, execution_timeout = seconds("retry_delay"), seconds("execution_timeout")
    for field, value, limit in (
        ("retry_delay", retry_delay, MAX_RETRY_DELAY),
        ("execution_timeout", execution_timeout, MAX_EXECUTION_TIMEOUT),
    ):
        if value is not None and value > limit:
            raise DefinitionError(f"{source}: task {task_id!r}: {field} must be at most {limit} seconds")
    trigger_rule = spec.get("trigger_rule", defaults.get("trigger_rule", "all_success"))
    if trigger_rule not in TRIGGER_RULES:
        raise DefinitionError(
            f"{source}: task {task_id!r}: trigger_rule {trigger_rule!r} is not one of {', '.join(TRIGGER_RULES)}"
        )
    mode = spec.get("mode", defaults.get("mode", "poke"))
    if mode not in SENSOR_MODES:
        raise DefinitionError(f"{source}: task {task_id!r}: mode must be poke or reschedule")
    return TaskDefinition(
        task_id=task_id,
        operator=spec["operator"],
        trigger_rule=trigger_rule,
        templates=tuple(text for text in _strings(spec) if "{{" in text),
        dependencies=tuple(dependencies),
        retries=retries,
        retry_delay=DEFAULT_RETRY_DELAY if retry_delay is None else retry_delay,
        execution_timeout=DEFAULT_EXECUTION_TIMEOUT if execution_timeout is None else execution_timeout,
        kind=kind,
        reference=reference,
        mode=mode,
        deferrable=spec.get("deferrable", defaults.get("deferrable")) is True,
        poke_interval=seconds("poke_interval") or DEFAULT_POKE_INTERVAL,
        sensor_timeout=seconds("timeout") or DEFAULT_SENSOR_TIMEOUT,
    )


def _operator(source: str, task_id: str, spec: dict[str, Any], code: CodePackage | None) -> tuple[str, str | None]:
    """The task's kind, and what a PythonOperator or BashOperator runs."""
    operator = spec.get("operator")
    where = f"{source}: task {task_id!r}"
    if isinstance(operator, str) and _AMAZON_OPERATOR.match(operator):
        return AMAZON, None
    if operator in EMPTY_OPERATORS:
        return EMPTY, None
    if operator in PYTHON_OPERATORS:
        python_callable = spec.get("python_callable")
        if not isinstance(python_callable, str) or not _CALLABLE.match(python_callable):
            raise DefinitionError(
                f"{where}: PythonOperator requires python_callable, as module_name.function_name from the "
                "workflow's code package"
            )
        return PYTHON, python_callable
    if operator in BASH_OPERATORS:
        bash_command = spec.get("bash_command")
        if not isinstance(bash_command, str) or not bash_command.strip():
            raise DefinitionError(f"{where}: BashOperator requires bash_command")
        return BASH, bash_command
    provided = isinstance(operator, str) and _CLASS_PATH.match(operator) and code is not None
    if provided and code is not None and code.module_path(str(operator).rpartition(".")[0]) is not None:
        return CUSTOM, None
    raise DefinitionError(
        f"{where}: unknown operator {operator!r}; MWAA Serverless runs Amazon provider operators "
        "(airflow.providers.amazon.aws.operators.<module>.<Name>Operator), EmptyOperator, PythonOperator, "
        "BashOperator, and operators whose module the workflow's code package holds"
    )


def _in_dependency_order(source: str, tasks: list[TaskDefinition]) -> tuple[TaskDefinition, ...]:
    by_id = {task.task_id: task for task in tasks}
    for task in tasks:
        for dependency in task.dependencies:
            if dependency not in by_id:
                raise DefinitionError(f"{source}: task {task.task_id!r} depends on unknown task {dependency!r}")
    ordered: list[TaskDefinition] = []
    placed: set[str] = set()
    while len(ordered) < len(tasks):
        ready = [t for t in tasks if t.task_id not in placed and set(t.dependencies) <= placed]
        if not ready:
            cycle = sorted(t.task_id for t in tasks if t.task_id not in placed)
            raise DefinitionError(f"{source}: dependency cycle among tasks {cycle}")
        ordered += ready
        placed.update(t.task_id for t in ready)
    return tuple(ordered)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


# The Jinja variables and macros MWAA Serverless renders (its user guide; written out in aws-samples/
# amazon-mwaa-examples, serverless/mcp/src/constraints.py: SUPPORTED_JINJA_VARIABLES and SUPPORTED_MACROS).
JINJA_NAMES = frozenset(
    {"macros", "task_instance", "ti", "params", "ds", "ds_nodash", "ts", "ts_nodash"}
    | {"datetime_diff_for_humans", "ds_add", "ds_format", "random"}
)
_FIRST_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)")


def template_error(template: str) -> str | None:
    """What rendering the template would fail with at run time (as Jinja words it), or None. A `}}` outside an
    expression is text (inline JSON has them)."""
    start = template.find("{{")
    while start >= 0:
        end = template.find("}}", start + 2)
        if end < 0:
            return "unexpected end of template, expected 'end of print statement'"
        expression = template[start + 2 : end]
        start = template.find("{{", end + 2)
        name = _FIRST_NAME.match(expression)
        if name is None:
            return f"unexpected token in {{{{{expression}}}}}"
        if name.group(1) not in JINJA_NAMES:
            return f"'{name.group(1)}' is undefined"
    return None


_XCOM_PULL = re.compile(r"xcom_pull\(\s*(?:task_ids\s*=\s*)?(\[[^\]]*\]|'[^']*'|\"[^\"]*\")")
_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")


def run_time_error(definition: WorkflowDefinition) -> str | None:
    """The first error that only running the workflow reveals: a template that cannot render, or an XCom pulled
    from a task the workflow does not have. The service accepts both at create time."""
    task_ids = {task.task_id for task in definition.tasks}
    for task in definition.tasks:
        for template in task.templates:
            error = template_error(template)
            if error is not None:
                return f"{task.task_id}: {error}"
            for argument in _XCOM_PULL.findall(template):
                for quoted in _QUOTED.findall(argument):
                    pulled = quoted[0] or quoted[1]
                    if pulled not in task_ids:
                        return f"{task.task_id}: xcom_pull from task {pulled!r}, which is not in the workflow"
    return None
