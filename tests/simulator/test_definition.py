"""Workflow definitions: the examples load; what the service would refuse is refused with the file named."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mwaa_obs_tools.simulator.definition import (
    DEFAULT_EXECUTION_TIMEOUT,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_DELAY,
    DefinitionError,
    parse_definition,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "workflows"
OPERATOR = "airflow.providers.amazon.aws.operators.s3.S3CreateObjectOperator"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_workflow_loads(path: Path) -> None:
    definition = parse_definition(path.read_text(encoding="utf-8"), path.name)
    assert definition.name == path.stem
    positions = {task.task_id: index for index, task in enumerate(definition.tasks)}
    assert all(positions[dep] < positions[t.task_id] for t in definition.tasks for dep in t.dependencies)


def test_the_launch_examples_have_the_documented_shape() -> None:
    simple = parse_definition((EXAMPLES / "simple_s3_test.yaml").read_text(), "simple_s3_test.yaml")
    assert simple.schedule == "0 0 * * *"
    assert [(t.task_id, t.operator_name, t.dependencies) for t in simple.tasks] == [
        ("list_objects", "S3ListOperator", ()),
        ("create_object_list", "S3CreateObjectOperator", ("list_objects",)),
    ]
    on_demand = parse_definition((EXAMPLES / "create_s3_objects.yaml").read_text(), "create_s3_objects.yaml")
    assert on_demand.schedule is None
    assert [t.task_id for t in on_demand.tasks] == ["create_object_1", "create_object_2", "create_object_3"]
    assert all(t.retries == 0 for t in on_demand.tasks)


def test_tasks_may_also_be_a_list() -> None:
    text = (
        f"wf:\n  tasks:\n    - task_id: a\n      operator: {OPERATOR}\n"
        f"    - task_id: b\n      operator: {OPERATOR}\n      dependencies: [a]\n"
    )
    assert [t.task_id for t in parse_definition(text, "list.yaml").tasks] == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("wf: [unclosed", "invalid YAML"),
        ("- just\n- a list\n", "must be a mapping"),
        (
            f"a:\n  tasks: {{t: {{operator: {OPERATOR}}}}}\nb:\n  tasks: {{t: {{operator: {OPERATOR}}}}}\n",
            "exactly one",
        ),
        ("wf:\n  tasks: {}\n", "non-empty"),
        (
            "wf:\n  tasks:\n    t: {operator: airflow.operators.bash.BashOperator}\n",
            "BashOperator requires bash_command",
        ),
        (
            "wf:\n  tasks:\n    t: {operator: airflow.providers.standard.operators.python.PythonOperator}\n",
            "PythonOperator requires python_callable, as module_name.function_name",
        ),
        ("wf:\n  tasks:\n    t: {operator: my_operators.CopyOperator}\n", "unknown operator"),
        ("wf:\n  tasks:\n    t: {operator: airflow.providers.amazon.aws.operators.s3.rm_rf}\n", "unknown operator"),
        (f"wf:\n  tasks:\n    t: {{operator: {OPERATOR}, dependencies: [ghost]}}\n", "unknown task 'ghost'"),
        (
            f"wf:\n  tasks:\n    a: {{operator: {OPERATOR}, dependencies: [b]}}\n"
            f"    b: {{operator: {OPERATOR}, dependencies: [a]}}\n",
            r"dependency cycle among tasks \['a', 'b'\]",
        ),
        (f"wf:\n  schedule: every day\n  tasks:\n    t: {{operator: {OPERATOR}}}\n", "schedule"),
        (f"wf:\n  tasks:\n    t: {{operator: {OPERATOR}, retries: -1}}\n", "retries"),
        (f"wf:\n  tasks:\n    t: {{operator: {OPERATOR}, retries: 4}}\n", "retries must be a whole number from 0 to 3"),
        (
            f"wf:\n  tasks:\n    t: {{operator: {OPERATOR}, retry_delay: 301}}\n",
            "retry_delay must be at most 300 seconds",
        ),
        (
            f"wf:\n  default_args: {{execution_timeout: 3601}}\n  tasks:\n    t: {{operator: {OPERATOR}}}\n",
            "execution_timeout must be at most 3600 seconds",
        ),
        (f"wf:\n  schedule: '@once'\n  tasks:\n    t: {{operator: {OPERATOR}}}\n", "has no cron form"),
        (f"wf:\n  start_date: 2026-12-01\n  tasks:\n    t: {{operator: {OPERATOR}}}\n", "must be in the future"),
        (
            f"wf:\n  start_date: 2027-02-01\n  end_date: 2027-01-01\n  tasks:\n    t: {{operator: {OPERATOR}}}\n",
            "end_date must be after or equal to start_date",
        ),
        (f"wf:\n  start_date: next tuesday\n  tasks:\n    t: {{operator: {OPERATOR}}}\n", "is not a date"),
    ],
)
def test_invalid_definitions_are_refused_naming_the_file(text: str, reason: str) -> None:
    with pytest.raises(DefinitionError, match=rf"^broken\.yaml: .*{reason}"):
        parse_definition(text, "broken.yaml", now=NOW)


NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_the_service_defaults_apply_to_what_a_task_leaves_out() -> None:
    text = (
        f"wf:\n  tasks:\n    t: {{operator: {OPERATOR}}}\n    u: {{operator: {OPERATOR}, retries: 0, retry_delay: 0}}\n"
    )
    t, u = parse_definition(text, "defaults.yaml").tasks
    assert (t.retries, t.retry_delay, t.execution_timeout) == (1, 300, 3600)
    assert (DEFAULT_RETRIES, DEFAULT_RETRY_DELAY, DEFAULT_EXECUTION_TIMEOUT) == (1, 300, 3600)
    assert (u.retries, u.retry_delay) == (0, 0)  # a zero is a value, not a missing one


def test_parameters_the_service_ignores_are_accepted_and_named() -> None:
    text = (
        "wf:\n  dagrun_timeout: 60\n  catchup: true\n  tags: [a]\n  max_consecutive_failed_dag_runs: 2\n"
        "  default_args: {owner: me, email_on_failure: true, start_date: '2024-01-01'}\n"
        f"  tasks:\n    t: {{operator: {OPERATOR}, pool: p, priority_weight: 5, sla: 10}}\n"
    )
    definition = parse_definition(text, "ignored.yaml", now=NOW)
    assert definition.ignored == (
        "catchup",
        "dagrun_timeout",
        "max_consecutive_failed_dag_runs",
        "tags",
        "email_on_failure",
        "owner",
        "pool",
        "priority_weight",
        "sla",
        "start_date",  # a task's start_date (in default_args) is ignored; only the DAG's is checked
    )


def test_a_future_start_date_and_empty_operators_are_accepted() -> None:
    text = (
        "wf:\n  schedule: '0 6 * * *'\n  start_date: 2027-01-01\n  end_date: '2027-06-30'\n  tasks:\n"
        "    begin: {operator: airflow.providers.standard.operators.empty.EmptyOperator}\n"
        f"    work: {{operator: {OPERATOR}, dependencies: [begin]}}\n"
        "    end: {operator: airflow.operators.empty.EmptyOperator, dependencies: [work]}\n"
    )
    definition = parse_definition(text, "future.yaml", now=NOW)
    assert (definition.start_date, definition.end_date) == (
        datetime(2027, 1, 1, tzinfo=UTC),
        datetime(2027, 6, 30, tzinfo=UTC),
    )
    assert [task.operator_name for task in definition.tasks] == [
        "EmptyOperator",
        "S3CreateObjectOperator",
        "EmptyOperator",
    ]


def test_a_yaml_error_names_the_file_line_and_column_once() -> None:
    with pytest.raises(DefinitionError) as refused:
        parse_definition("wf:\n  tasks: [a, b\n", "broken.yaml")
    expected = "expected ',' or ']', but got '<stream end>'"
    assert str(refused.value) == f"broken.yaml: invalid YAML: line 3, column 1: {expected}"
