"""Workflow definitions: the examples load; what the service would refuse is refused with the file named."""

from __future__ import annotations

from pathlib import Path

import pytest

from mwaa_obs_tools.simulator.definition import DefinitionError, parse_definition

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
        ("wf:\n  tasks:\n    t: {operator: airflow.operators.bash.BashOperator}\n", "unknown operator"),
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
    ],
)
def test_invalid_definitions_are_refused_naming_the_file(text: str, reason: str) -> None:
    with pytest.raises(DefinitionError, match=rf"^broken\.yaml: .*{reason}"):
        parse_definition(text, "broken.yaml")


def test_a_yaml_error_names_the_file_line_and_column_once() -> None:
    with pytest.raises(DefinitionError) as refused:
        parse_definition("wf:\n  tasks: [a, b\n", "broken.yaml")
    expected = "expected ',' or ']', but got '<stream end>'"
    assert str(refused.value) == f"broken.yaml: invalid YAML: line 3, column 1: {expected}"
