"""Lambda code imports only what the layer and the runtime provide: no tools, emulators or boto3 in the hot path."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers/common"
LAMBDA_SOURCES = sorted([*(LAYER / "mwaa_obs").rglob("*.py"), *(ROOT / "functions").glob("*/app.py")])
# What Lambda code may import: our package and the layer's wheels (layers/common/requirements.txt) whose modules it
# uses; the layer ships botocore's own dependencies beside them (DEPENDENCIES), never imported by our code.
ALLOWED = {"mwaa_obs", "aws_lambda_powertools", "pynamodb", "typing_extensions", "yaml", "botocore", "jmespath"}
WHEEL_MODULES = {"PyYAML": "yaml"}  # a wheel whose module has another name
DEPENDENCIES = {"python_dateutil", "six", "urllib3"}


def _top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", LAMBDA_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_lambda_code_imports_only_the_layer_and_the_runtime(path: Path) -> None:
    foreign = _top_level_imports(path) - ALLOWED - set(sys.stdlib_module_names) - {"app"}
    assert not foreign, f"{path.name} imports {sorted(foreign)}, which the Lambda layer does not ship"


def test_the_layer_requirements_are_the_allowed_wheels() -> None:
    lines = (ROOT / "layers/common/requirements.txt").read_text(encoding="utf-8").splitlines()
    names = (line.split("==")[0] for line in lines if line and not line.startswith("#"))
    wheels = {WHEEL_MODULES.get(name, name.replace("-", "_")) for name in names}
    assert wheels == ALLOWED - {"mwaa_obs"} | DEPENDENCIES


def test_the_layer_build_copies_every_module_of_the_package() -> None:
    # sam build runs layers/common/Makefile: a package folder it does not copy would be missing in Lambda.
    copied = set(re.findall(r"cp (mwaa_obs(?:/[a-z_]+)*)/\*\.py", (LAYER / "Makefile").read_text(encoding="utf-8")))
    folders = {str(path.parent.relative_to(LAYER)) for path in (LAYER / "mwaa_obs").rglob("*.py")}
    assert copied == folders


def test_sam_build_has_nothing_to_warn_about() -> None:
    """`make build` printed two harmless but alarming warnings (issue 36): a function folder without
    requirements.txt ("requirements.txt file not found"), a makefile layer without its BuildArchitecture ("has
    BuildArchitecture x86_64, which is not listed in CompatibleArchitectures")."""
    from mwaa_obs_tools.emulator import load_template

    resources = load_template()["Resources"]
    for name, spec in resources.items():
        if spec["Type"] == "AWS::Serverless::Function":
            assert (ROOT / spec["Properties"]["CodeUri"] / "requirements.txt").is_file(), name
        if (
            spec["Type"] == "AWS::Serverless::LayerVersion"
            and spec.get("Metadata", {}).get("BuildMethod") == "makefile"
        ):
            built = spec["Metadata"].get("BuildArchitecture", "x86_64")  # sam build's default
            assert built in spec["Properties"]["CompatibleArchitectures"], name
            assert f"manylinux2014_{'aarch64' if built == 'arm64' else built}" in (LAYER / "Makefile").read_text()


def _services_the_code_calls() -> set[str]:
    """The botocore service names the Lambda code makes clients of (client("ssm"), LazyClient("sts"),
    create_client("dynamodb"), the API's SERVICE_NAME...)."""
    called = r'(?:client|LazyClient|create_client)\(\s*"([a-z0-9-]+)"|SERVICE_NAME: Final = "([a-z0-9-]+)"'
    return {
        name
        for path in LAMBDA_SOURCES
        for match in re.findall(called, path.read_text(encoding="utf-8"))
        for name in match
        if name
    }


def test_the_layer_keeps_the_model_of_every_service_the_code_calls_and_no_other() -> None:
    # The layer build deletes every other service model of botocore: a service missing there is an
    # UnknownServiceError in Lambda, which no test running the venv's whole botocore would see.
    (kept,) = re.findall(r"^SDK_SERVICES := (.+)$", (LAYER / "Makefile").read_text(encoding="utf-8"), re.MULTILINE)
    assert set(kept.split()) == _services_the_code_calls()
