"""The dashboard bodies of dashboards/: kept in template.yaml, filled in for a deployment, and read back.

dashboards/*.json are CloudFormation `Fn::Sub` templates of CloudWatch dashboard bodies (`${MetricNamespace}`,
`${AWS::Region}`…; a number placeholder stands unquoted, so the files are JSON only once filled in). template.yaml
holds a copy of each in its dashboard resource; `python -m mwaa_obs_tools.dashboards sync` (make dashboards)
rewrites the copies, and a test fails when they differ.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from mwaa_obs_tools.emulator import REPO_ROOT, TEMPLATE_PATH

DASHBOARDS_DIR: Final = REPO_ROOT / "dashboards"
# Dashboard resource in template.yaml -> its body in dashboards/.
BODIES: Final = {"FleetDashboard": "fleet.json", "WorkflowDashboard": "workflow.json"}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9:.]+)\}")


def body_template(logical_id: str) -> str:
    return (DASHBOARDS_DIR / BODIES[logical_id]).read_text(encoding="utf-8")


def fill(template_text: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The dashboard body with its placeholders replaced, as CloudFormation's Fn::Sub would; KeyError if one is
    missing from `values`."""
    filled = _PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), template_text)
    body: dict[str, Any] = json.loads(filled)
    return body


def placeholders(template_text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(template_text))


def sync_template(path: Path = TEMPLATE_PATH) -> bool:
    """Copy each body into its resource in template.yaml; returns whether anything changed."""
    original = path.read_text(encoding="utf-8")
    lines = original.splitlines(keepends=True)
    for logical_id, file_name in BODIES.items():
        marker = next(i for i, line in enumerate(lines) if line.strip() == f"# Body: dashboards/{file_name}")
        header = lines[marker + 1]
        if header.strip() != "DashboardBody: !Sub |":
            raise ValueError(f"{logical_id}: expected 'DashboardBody: !Sub |' after the marker, found {header!r}")
        indent = " " * (len(header) - len(header.lstrip()) + 2)
        end = marker + 2
        while end < len(lines) and (not lines[end].strip() or lines[end].startswith(indent)):
            end += 1
        while end > marker + 2 and not lines[end - 1].strip():  # keep the blank line before the next resource
            end -= 1
        body = [indent + line if line.strip() else "\n" for line in body_template(logical_id).splitlines(keepends=True)]
        lines[marker + 2 : end] = body
    updated = "".join(lines)
    if updated != original:
        path.write_text(updated, encoding="utf-8")
    return updated != original


def main(argv: list[str]) -> int:
    if argv != ["sync"]:
        print("usage: python -m mwaa_obs_tools.dashboards sync", file=sys.stderr)
        return 2
    print("template.yaml updated" if sync_template() else "template.yaml already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
