"""The state vocabulary is written once: in mwaa_obs.states, and nowhere else in the layer."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import cast

import botocore.session
from botocore.model import StringShape

from mwaa_obs.states import RUN_RANK, TASK_RANK, RunState, TaskState, seen_attribute
from mwaa_obs.store.schema import RunItem, TaskAttemptItem

LAYER = Path(__file__).resolve().parents[2] / "layers" / "common" / "mwaa_obs"
STATE_NAMES = {state.value for state in RunState} | {state.value for state in TaskState}


def _bare_state_strings(source: str) -> list[tuple[int, str]]:
    """String constants that spell a state, outside docstrings."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in STATE_NAMES
        and id(node) not in docstrings
    ]


def test_no_module_of_the_layer_but_states_spells_a_state_name() -> None:
    found = {
        str(path.relative_to(LAYER)): hits
        for path in sorted(LAYER.rglob("*.py"))
        if path.name != "states.py" and (hits := _bare_state_strings(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_the_check_finds_a_bare_state_name() -> None:
    assert _bare_state_strings('if status == "FAILED":\n    pass\n') == [(1, "FAILED")]
    assert _bare_state_strings('"""FAILED"""\n') == []


def test_each_ranked_state_has_its_seen_attribute_and_no_other_exists() -> None:
    for model, ranks in ((RunItem, RUN_RANK), (TaskAttemptItem, TASK_RANK)):
        declared = {name for name in model.get_attributes() if name.startswith("seen_")}
        assert declared == {seen_attribute(state) for state in ranks}


def test_every_state_but_a_task_not_yet_scheduled_has_a_rank() -> None:
    assert set(RUN_RANK) == set(RunState)
    assert set(TASK_RANK) == set(TaskState) - {TaskState.NONE}


def test_the_vocabulary_holds_every_state_of_the_services_model() -> None:
    """botocore's model of the API (the version the venv pins): a state it adds fails here until it is handled."""
    model = botocore.session.get_session().get_service_model("mwaa-serverless")
    assert set(cast(StringShape, model.shape_for("WorkflowRunStatus")).enum) == set(RunState)
    assert set(cast(StringShape, model.shape_for("TaskInstanceStatus")).enum) == set(TaskState)
