"""A simulator on loopback for the conformance walk: one engine whose object store is a dict."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from mwaa_obs_tools.simulator import admin
from mwaa_obs_tools.simulator.api import ApiServer
from mwaa_obs_tools.simulator.engine import Engine

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class _Nowhere:
    def publish(self, entries: list[dict[str, Any]]) -> None:
        pass

    def log(self, group: str, stream: str, at: datetime, message: str) -> None:
        pass


@contextmanager
def serve(objects: dict[str, bytes], bucket: str) -> Iterator[tuple[str, Callable[[float], None]]]:
    def read(location: dict[str, Any]) -> bytes:
        if location["Bucket"] != bucket:
            raise KeyError(location["Bucket"])
        return objects[location["ObjectKey"]]

    engine = Engine(_Nowhere(), read, start=START)
    server = ApiServer(engine).start()

    def advance(seconds: float) -> None:
        admin.answer([engine], server.traffic, f"{admin.PREFIX}advance", {"seconds": seconds})

    try:
        yield server.url, advance
    finally:
        server.stop()
