"""Code packages: what CreateWorkflow's and UpdateWorkflow's `Code` names in S3, as the service copies it at the
request ("The service copies the code from this location at the time of the request", the model's Code member).

The user guide (https://docs.aws.amazon.com/mwaa/latest/mwaa-serverless-userguide/custom-code-operators.html) and
AWS's packaging reference (aws/agent-toolkit-for-aws, authoring-mwaa-workflow/references/serverless-code-packaging.md):
"a single `.py`, a single `.sh`, or a `.zip` with all modules and dependencies at the archive root. Code extracts to
`/usr/local/airflow/dags`, so root-level modules import directly; `python_callable` uses `module_name.function_name`".

The simulator never runs the code (see code_tasks.py): it keeps the package's Python and shell sources to resolve
what a task names in them, and only the names of its other files.
"""

from __future__ import annotations

import ast
import io
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import PurePosixPath

from mwaa_obs_tools.simulator.errors import invalid

DAGS_FOLDER = "/usr/local/airflow/dags"  # where the service extracts a package
KINDS = (".py", ".sh", ".zip")
MAX_SOURCE_BYTES = 20_000_000  # sources kept in memory at most (the rest of a package: names only)


@dataclass(frozen=True)
class CodePackage:
    key: str  # the S3 object key it came from
    snapshotted_at: datetime  # CodeSnapshottedAt
    sources: dict[str, str] = field(hash=False)  # path in the dags folder -> text, for .py and .sh files
    files: frozenset[str] = frozenset()  # every path in the dags folder

    @classmethod
    def from_object(cls, key: str, data: bytes, at: datetime) -> CodePackage:
        """The package in object `key`; ValidationException for a kind the service does not take."""
        name = PurePosixPath(key).name
        suffix = PurePosixPath(name).suffix.lower()
        if suffix not in KINDS:
            raise invalid(
                f"Code package {key} must be a .py file, a .sh file or a .zip archive",
                [("Code.S3Location.ObjectKey", "Member must name a .py, .sh or .zip object")],
            )
        if suffix != ".zip":
            return cls(key, at, {name: data.decode("utf-8", errors="replace")}, frozenset({name}))
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            names = [info for info in archive.infolist() if not info.is_dir()]
            sources: dict[str, str] = {}
            budget = MAX_SOURCE_BYTES
            for info in names:
                if info.filename.endswith((".py", ".sh")) and info.file_size <= budget:
                    budget -= info.file_size
                    sources[info.filename] = archive.read(info).decode("utf-8", errors="replace")
        except (zipfile.BadZipFile, EOFError, ValueError) as error:
            raise invalid(
                f"Code package {key} is not a readable .zip archive: {error}",
                [("Code.S3Location.ObjectKey", "Member must name a readable .zip archive")],
            ) from None
        return cls(key, at, sources, frozenset(info.filename for info in names))

    def module_path(self, module: str) -> str | None:
        """Where `import module` finds it in the dags folder (a.b: a/b.py or a/b/__init__.py), or None."""
        base = module.replace(".", "/")
        return next((path for path in (f"{base}.py", f"{base}/__init__.py") if path in self.sources), None)

    def module(self, module: str) -> Module | None:
        path = self.module_path(module)
        return Module(path, self.sources[path]) if path else None


@dataclass(frozen=True)
class Module:
    """A Python module of a package, read (never imported)."""

    path: str
    source: str

    @cached_property
    def tree(self) -> ast.Module | SyntaxError:
        try:
            return ast.parse(self.source, filename=f"{DAGS_FOLDER}/{self.path}")
        except SyntaxError as error:
            return error

    def definition(self, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | None:
        """The top-level function or class `name`, as an import would find it."""
        tree = self.tree
        if isinstance(tree, SyntaxError):
            return None
        found = None
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name:
                found = node  # the last definition wins, as at import
        return found

    def binds(self, name: str) -> bool:
        """Whether the module binds `name` at top level some other way (an assignment, an import)."""
        tree = self.tree
        if isinstance(tree, SyntaxError):
            return False
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom) and any(
                (alias.asname or alias.name.split(".")[0]) == name for alias in node.names
            ):
                return True
            targets = node.targets if isinstance(node, ast.Assign) else []
            if any(isinstance(target, ast.Name) and target.id == name for target in targets):
                return True
        return False

    def line(self, number: int) -> str:
        lines = self.source.splitlines()
        return lines[number - 1].strip() if 0 < number <= len(lines) else ""
