"""The sections of `make bench`, one module each, in the order the runner runs them.

Each module has `run(options) -> figures` (a JSON-able dict, bench/results.json's entry for the section) and
`rows(figures)`, its lines of the printed table.
"""

SECTIONS = (
    "calls", "pipeline", "duplicates", "load", "cpu", "metrics", "memory", "latency", "simulator", "discovery",
    "widget", "matrix", "month", "insights", "scale", "provision", "reads", "emulator", "cold", "walltimes",
)  # fmt: skip
