"""The docs that users rely on match the code they describe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mwaa_obs.metrics import CATALOG, Scope
from mwaa_obs.states import (
    DOCUMENTED_DETAIL_TYPES,
    RUN_DETAIL_TYPE_PREFIX,
    RUN_STATE_BY_DETAIL,
    TASK_DETAIL_TYPE_PREFIX,
    TASK_STATE_BY_DETAIL,
)
from mwaa_obs_tools import emulator

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _table_rows(text: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|") and not line.startswith("|---")
    ]


SERIES = {
    Scope.FLEET: "none",
    Scope.EXCEPTION: "none; WorkflowName",
    Scope.FULL: "none; WorkflowName with full metrics",
}


def test_the_metric_catalog_page_lists_exactly_the_emitted_metrics() -> None:
    rows = {row[0]: row for row in _table_rows((DOCS / "METRICS.md").read_text(encoding="utf-8"))[1:]}
    assert set(rows) == {spec.name for spec in CATALOG}
    for spec in CATALOG:
        _, unit, series, meaning = rows[spec.name]
        assert unit == spec.unit
        assert series == SERIES[spec.scope]
        assert meaning == spec.meaning


def test_the_events_page_maps_every_detail_type_to_its_state_and_says_which_aws_documents() -> None:
    rows = {row[0]: row[1:] for row in _table_rows((DOCS / "EVENTS.md").read_text(encoding="utf-8"))}
    expected: dict[str, str] = {RUN_DETAIL_TYPE_PREFIX + suffix: state for suffix, state in RUN_STATE_BY_DETAIL.items()}
    expected |= {TASK_DETAIL_TYPE_PREFIX + suffix: state for suffix, state in TASK_STATE_BY_DETAIL.items()}
    assert {name: rows.get(name) for name in expected} == {
        name: [state, "yes" if name in DOCUMENTED_DETAIL_TYPES else "no"] for name, state in expected.items()
    }


README = DOCS.parent / "README.md"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
# [text](target) and ![alt](target); not inside code spans
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    kept = "".join(ch for ch in heading.strip().lower() if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    fenced = False
    anchors = set()
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            anchors.add(_slug(line.lstrip("#")))
    return anchors


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    return [target for target in _LINK.findall(re.sub(r"`[^`\n]*`", "", text)) if "://" not in target]


def test_the_readme_opens_with_exactly_the_two_set_up_commands() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    block = lines[lines.index("```bash") + 1 :]
    commands = [line.split("#")[0].strip() for line in block[: block.index("```")]]
    assert commands == ["make demo", "make test"]
    assert all(not line.startswith("```") for line in lines[: lines.index("```bash")])  # the first block


def test_the_readme_fits_on_a_few_screens() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 160


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_link_between_the_docs_resolves(page: Path) -> None:
    broken = []
    for target in _links(page):
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target}: no heading '{anchor}' in {resolved.name}")
    assert broken == []


def test_the_readme_shows_its_pictures_from_docs_images() -> None:
    images = [target for target in _links(README) if target.endswith(".png")]
    assert images == ["docs/images/runs-grid.png", "docs/images/slack-alert.png"]
    for image in images:
        assert (README.parent / image).read_bytes().startswith(b"\x89PNG")


def test_the_parameters_page_lists_every_template_parameter_and_its_default() -> None:
    parameters = emulator.load_template()["Parameters"]
    rows: dict[str, str] = {}
    for row in _table_rows((DOCS / "PARAMETERS.md").read_text(encoding="utf-8"))[1:]:
        for name in re.findall(r"`(\w+)`", row[0]):
            rows[name] = row[1]
    assert set(rows) == set(parameters)
    for name, spec in parameters.items():
        default = str(spec.get("Default", ""))
        shown = rows[name].strip("`")
        assert shown == (default or "(none)"), name
