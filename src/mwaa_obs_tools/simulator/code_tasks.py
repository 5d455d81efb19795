"""PythonOperator, BashOperator and operators from a code package, as the simulator runs them: without running
them. Running user code in the simulator would make a local tool execute whatever a definition names, with the
user's credentials at hand; what the pipeline needs from such a task is its states, its timing and, when it fails,
the log and the error a real worker would leave. So each attempt is a simulated execution that resolves what the
task names against the workflow version's code package, read but never imported (code_package.py), and fails as
Airflow 3 on Python 3.12 would ("Amazon MWAA Serverless uses Apache Airflow v3 with Python 3.12", user guide
what-is) when it cannot:

- PythonOperator (`python_callable: module.function`): no such module in the package (nor in the standard library
  or the worker's pre-installed packages) is a ModuleNotFoundError, a module that does not parse a SyntaxError,
  no such function an ImportError (Airflow's import_string wording); a function reading os.environ["NAME"] of a
  variable neither the workflow's Environment nor the run's OverrideParameters set is a KeyError at that line.
- BashOperator (`bash_command`): a command ending in .sh or .bash is a template file Airflow looks up in the dags
  folder (jinja2 TemplateNotFound when the package has none); a command or script ending in `exit N` exits N: 99
  skips the task (skip_on_exit_code), any other non-zero fails it with the BashOperator's message.
- An operator class from the package (a provider installed into it, or a BaseOperator subclass): no such class in
  its module is an ImportError.

Failures injected by the faults (faults.py) into such a task are raised from inside its callable. The frames
above the user's code are Airflow 3.3's (apache-airflow-task-sdk 1.3, providers-standard 1.21) at their real line
numbers; the traceback's lines are written by task_logs.py.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from typing import Any

from mwaa_obs_tools.simulator.code_package import DAGS_FOLDER, CodePackage
from mwaa_obs_tools.simulator.definition import BASH, CUSTOM, PYTHON, TaskDefinition

SITE = "/usr/local/lib/python3.12/site-packages"
_RUNNER = f"{SITE}/airflow/sdk/execution_time/task_runner.py"
# Modules a worker imports without a package: the standard library and what MWAA Serverless pre-installs (the
# user guide's operators-python-bash-detail page lists them; these are the ones every Airflow 3 Amazon worker has).
PREINSTALLED = frozenset(sys.stdlib_module_names) | {"airflow", "boto3", "botocore", "pendulum", "jinja2", "yaml"}
SKIP_EXIT_CODE = 99  # BashOperator's skip_on_exit_code default


@dataclass(frozen=True)
class Frame:
    path: str
    line: int
    function: str
    code: str = ""


@dataclass(frozen=True)
class PythonFailure:
    """An exception as its traceback shows it: the frames, most recent call last, then `exception: value`."""

    exception: str  # the name a traceback prints: builtins bare, others qualified
    value: str
    frames: tuple[Frame, ...]

    @property
    def message(self) -> str:
        return f"{self.exception}: {self.value}" if self.value else self.exception


@dataclass(frozen=True)
class Skipped:
    reason: str


Outcome = PythonFailure | Skipped | None  # None: the attempt's work succeeds

EXECUTE_FRAMES = (
    Frame(_RUNNER, 1579, "_run_task_and_map_outcome", "result = _execute_task(context=context, ti=ti, log=log)"),
    Frame(_RUNNER, 2234, "_execute_task", "result = _run_execute_callable(context, execute, task)"),
    Frame(_RUNNER, 2192, "_run_execute_callable", "result = ctx.run(execute, context=context)"),
    Frame(f"{SITE}/airflow/sdk/bases/operator.py", 462, "wrapper", "return func(self, *args, **kwargs)"),
)
_PYTHON = (
    Frame(
        f"{SITE}/airflow/providers/standard/operators/python.py",
        231,
        "execute",
        "return_value = self.execute_callable()",
    ),
    Frame(
        f"{SITE}/airflow/providers/standard/operators/python.py",
        254,
        "execute_callable",
        "return runner.run(*self.op_args, **self.op_kwargs)",
    ),
    Frame(f"{SITE}/airflow/sdk/execution_time/callback_runner.py", 97, "run", "return func(*args, **kwargs)"),
)
_BASH = (Frame(f"{SITE}/airflow/providers/standard/operators/bash.py", 225, "execute", "raise AirflowException("),)
_IMPORT = (
    Frame(_RUNNER, 2424, "main", "ti, context, log = startup(msg=startup_details)"),
    Frame(_RUNNER, 1204, "startup", "ti = parse(msg, log)"),
    Frame(_RUNNER, 1022, "parse", "bag = BundleDagBag("),
    Frame(
        f"{SITE}/airflow/_shared/module_loading/__init__.py", 90, "import_string", "module = import_module(module_path)"
    ),
    Frame(
        "/usr/local/lib/python3.12/importlib/__init__.py",
        90,
        "import_module",
        "return _bootstrap._gcd_import(name[level:], package, level)",
    ),
    Frame("<frozen importlib._bootstrap>", 1387, "_gcd_import"),
    Frame("<frozen importlib._bootstrap>", 1360, "_find_and_load"),
    Frame("<frozen importlib._bootstrap>", 1324, "_find_and_load_unlocked"),
)
_RENDER = (
    Frame(_RUNNER, 1573, "_run_task_and_map_outcome", "if early_exit := _prepare(ti, log, context):"),
    Frame(_RUNNER, 1414, "_prepare", "ti.render_templates(context=context, jinja_env=jinja_env)"),
    Frame(_RUNNER, 432, "render_templates", "self.task.render_template_fields(context, jinja_env)"),
    Frame(f"{SITE}/jinja2/environment.py", 1016, "get_template", "return self._load_template(name, globals)"),
    Frame(
        f"{SITE}/jinja2/environment.py",
        975,
        "_load_template",
        "template = self.loader.load(self, name, self.make_globals(globals))",
    ),
    Frame(f"{SITE}/jinja2/loaders.py", 126, "load", "source, filename, uptodate = self.get_source(environment, name)"),
    Frame(f"{SITE}/jinja2/loaders.py", 209, "get_source", "raise TemplateNotFound("),
)
_IMPORT_STRING_RAISE = Frame(
    f"{SITE}/airflow/_shared/module_loading/__init__.py", 95, "import_string",
    'raise ImportError(f\'Module "{module_path}" does not define a "{class_name}" attribute/class\')',
)  # fmt: skip
_EXIT = re.compile(r"(?:^|[;&|\n]\s*)exit\s+(\d+)\s*;?\s*$")


def outcome(task: TaskDefinition, package: CodePackage | None, environment: dict[str, Any]) -> Outcome:
    """What the attempt's work comes to, for a task of code (None for the others: their work succeeds)."""
    if task.kind == PYTHON:
        return _python(task.reference or "", package, environment)
    if task.kind == BASH:
        return _bash(task.reference or "", package)
    if task.kind == CUSTOM:
        module, _, name = task.operator.rpartition(".")
        return _import(module, name, package)
    return None


def injected(task: TaskDefinition, package: CodePackage | None, value: str) -> PythonFailure | None:
    """An injected failure raised from inside the task's callable (None: not a task of code with a callable)."""
    if task.kind != PYTHON or package is None:
        return None
    module_name, _, function = (task.reference or "").rpartition(".")
    module = package.module(module_name)
    node = module.definition(function) if module else None
    if module is None or node is None:
        return None
    line = node.body[0].lineno if getattr(node, "body", None) else node.lineno
    user = Frame(f"{DAGS_FOLDER}/{module.path}", line, function, module.line(line))
    return PythonFailure("RuntimeError", value, (*EXECUTE_FRAMES, *_PYTHON, user))


def _python(reference: str, package: CodePackage | None, environment: dict[str, Any]) -> Outcome:
    module_name, _, function = reference.rpartition(".")
    failure = _import(module_name, function, package)
    if failure is not None or package is None or package.module(module_name) is None:
        return failure
    module = package.module(module_name)
    assert module is not None
    node = module.definition(function)
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    for line, name in _environ_reads(node):
        if name not in environment:
            user = Frame(f"{DAGS_FOLDER}/{module.path}", line, function, module.line(line))
            frozen = Frame("<frozen os>", 714, "__getitem__")
            return PythonFailure("KeyError", repr(name), (*EXECUTE_FRAMES, *_PYTHON, user, frozen))
    return None


def _import(module_name: str, name: str, package: CodePackage | None) -> PythonFailure | None:
    """Importing `name` from `module_name` as the worker would, or the failure it would raise."""
    if module_name.split(".", maxsplit=1)[0] in PREINSTALLED:
        return None
    module = package.module(module_name) if package else None
    if module is None:
        return PythonFailure("ModuleNotFoundError", f"No module named {module_name!r}", _IMPORT)
    tree = module.tree
    if isinstance(tree, SyntaxError):
        where = Frame(f"{DAGS_FOLDER}/{module.path}", tree.lineno or 1, "<module>", (tree.text or "").strip())
        return PythonFailure("SyntaxError", tree.msg, (*_IMPORT[:5], where))
    if module.definition(name) is None and not module.binds(name):
        value = f'Module "{module_name}" does not define a "{name}" attribute/class'
        return PythonFailure("ImportError", value, (*_IMPORT[:4], _IMPORT_STRING_RAISE))
    return None


def _environ_reads(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[int, str]]:
    """The os.environ["NAME"] (or environ["NAME"]) reads in the function, in line order."""
    reads = []
    for node in ast.walk(function):
        if not isinstance(node, ast.Subscript) or not isinstance(node.slice, ast.Constant):
            continue
        target = node.value
        named_environ = (isinstance(target, ast.Attribute) and target.attr == "environ") or (
            isinstance(target, ast.Name) and target.id == "environ"
        )
        if named_environ and isinstance(node.slice.value, str) and isinstance(node.ctx, ast.Load):
            reads.append((node.lineno, node.slice.value))
    return sorted(reads)


def _bash(command: str, package: CodePackage | None) -> Outcome:
    script = command
    if command.endswith((".sh", ".bash")):  # Airflow: a template file, looked up in the dags folder
        path = command.removeprefix(f"{DAGS_FOLDER}/").lstrip("/")
        if package is None or path not in package.sources:
            return PythonFailure("jinja2.exceptions.TemplateNotFound", command, _RENDER)
        script = package.sources[path]
    exit_code = _EXIT.search(script.rstrip())
    code = int(exit_code.group(1)) if exit_code else 0
    if code == SKIP_EXIT_CODE:
        return Skipped(f"Bash command returned exit code {code}. Skipping.")
    if code != 0:
        value = f"Bash command failed. The command returned a non-zero exit code {code}."
        return PythonFailure("airflow.sdk.exceptions.AirflowException", value, (*EXECUTE_FRAMES, *_BASH))
    return None


def sensor_timeout(elapsed: float, timeout: float) -> PythonFailure:
    """A sensor whose condition did not come true within its timeout (Airflow fails it without retries)."""
    value = f"Sensor has timed out; run duration of {elapsed} seconds exceeds the specified timeout of {timeout}."
    raised = Frame(f"{SITE}/airflow/sdk/bases/sensor.py", 243, "execute", "raise AirflowSensorTimeout(message)")
    return PythonFailure("airflow.sdk.exceptions.AirflowSensorTimeout", value, (*EXECUTE_FRAMES, raised))
