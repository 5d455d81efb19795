"""The docs that users rely on match the code they describe."""

from __future__ import annotations

from pathlib import Path

from mwaa_obs.metrics import CATALOG
from mwaa_obs.states import RUN_DETAIL_TYPE_PREFIX, RUN_STATE_BY_DETAIL, TASK_DETAIL_TYPE_PREFIX, TASK_STATE_BY_DETAIL

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _table_rows(text: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|") and not line.startswith("|---")
    ]


def test_the_metric_catalog_page_lists_exactly_the_emitted_metrics() -> None:
    rows = {row[0]: row for row in _table_rows((DOCS / "METRICS.md").read_text(encoding="utf-8"))[1:]}
    assert set(rows) == {spec.name for spec in CATALOG}
    for spec in CATALOG:
        _, unit, dimensions, meaning = rows[spec.name]
        assert unit == spec.unit
        assert dimensions == ("WorkflowName; none" if spec.per_workflow else "none")
        assert meaning == spec.meaning


def test_the_events_page_maps_every_detail_type_to_its_state() -> None:
    rows = {row[0]: row[1] for row in _table_rows((DOCS / "EVENTS.md").read_text(encoding="utf-8"))}
    expected: dict[str, str] = {RUN_DETAIL_TYPE_PREFIX + suffix: state for suffix, state in RUN_STATE_BY_DETAIL.items()}
    expected |= {TASK_DETAIL_TYPE_PREFIX + suffix: state for suffix, state in TASK_STATE_BY_DETAIL.items()}
    assert {name: rows.get(name) for name in expected} == expected
