"""The layer's shape: only the typed config reads the environment, and the models name no table of their own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mwaa_obs.store.schema import Entity

LAYER = Path(__file__).resolve().parents[2] / "layers" / "common" / "mwaa_obs"
ENVIRONMENT_READ = re.compile(r"\bos\.environ\b|\bgetenv\(")


def test_only_config_reads_the_environment() -> None:
    readers = [
        str(path.relative_to(LAYER))
        for path in sorted(LAYER.rglob("*.py"))
        if ENVIRONMENT_READ.search(path.read_text(encoding="utf-8"))
    ]
    assert readers == ["config.py"]


def test_the_models_cannot_reach_a_table_behind_the_repositories() -> None:
    # Every read and write goes through a repository built with its client and table name.
    with pytest.raises(AttributeError, match="PynamoDB Models require a `Meta` class"):
        Entity.describe_table()
