"""Typed settings read once from the function's environment (set by template.yaml)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta


class ConfigError(RuntimeError):
    """The function's environment is incomplete or wrong: a deployment problem, reported at start-up."""


@dataclass(frozen=True, slots=True)
class IngestConfig:
    table_name: str
    history_ttl: timedelta

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> IngestConfig:
        table_name = env.get("TABLE_NAME", "")
        if not table_name:
            raise ConfigError("TABLE_NAME is not set")
        days = env.get("HISTORY_TTL_DAYS", "90")
        if not days.isdigit() or int(days) < 1:
            raise ConfigError(f"HISTORY_TTL_DAYS must be a whole number of days, not {days!r}")
        return cls(table_name=table_name, history_ttl=timedelta(days=int(days)))
