"""Running the notebook suite headlessly with Papermill and filing what it produced.

One run of the suite is one MLflow run: every notebook logs into it, the training notebook registers the
version, and the executed notebooks are saved under ``reports/<model>/v<version>/`` and logged to the run.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._kernels import KERNEL_QUIET, KernelFactory, kernel_environment, kernel_source, shutdown, start_kernel
from workbench.paths import project_root, reports_root, version_reports_dir

DEVELOPMENT_SUITE = ["01_data_validation.ipynb", "02_train.ipynb"]
#: the validator's notebooks, the longest first: they run side by side, as many at a time as there are cores
VALIDATION_SUITE = ["03_validation.ipynb", "04_fairness.ipynb", "05_explainability.ipynb"]


class SuiteError(RuntimeError):
    """A notebook of the suite failed; the message is the notebook's own error, the path its executed copy."""

    def __init__(self, message: str, notebook: Path | None = None, next_step: str = "") -> None:
        self.notebook = notebook
        self.next_step = next_step
        super().__init__(message)


@dataclass
class SuiteResult:
    """What one run of the suite produced and where it lives."""

    model: str
    version: int
    run_id: str
    reports_dir: Path
    notebooks: list[Path] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


if TYPE_CHECKING:  # the pipeline module stays light: a command imports it before its own heavy imports
    from workbench.governance import GovernanceService, User


def _governance(client) -> GovernanceService:
    from workbench.governance import AuditTrail, GovernanceService, MlflowVersionStore

    return GovernanceService(MlflowVersionStore(client), AuditTrail())


def notebooks_dir() -> Path:
    """The suite's notebooks: ``WORKBENCH_NOTEBOOKS``, else ``notebooks/`` in the project or the source tree."""
    configured = os.environ.get("WORKBENCH_NOTEBOOKS")
    if configured:
        return Path(configured).expanduser().resolve()
    for candidate in (project_root() / "notebooks", Path(__file__).resolve().parent.parent / "notebooks"):
        if (candidate / DEVELOPMENT_SUITE[0]).is_file():
            return candidate
    raise FileNotFoundError("cannot find the notebooks folder; set WORKBENCH_NOTEBOOKS")


def _kernel_environment() -> None:
    """Make the kernel Papermill starts use this interpreter and see the same registry and project root."""
    kernel_environment(project_root())


def execute(notebook: str, output: Path, parameters: dict[str, object], progress: bool = True, kernel=None) -> Path:
    """Execute one notebook with Papermill; a failure raises :class:`SuiteError` with the notebook's message.

    ``kernel`` (a started ``jupyter_client`` kernel manager, see :mod:`workbench._kernels`) runs the notebook in
    that kernel instead of a new one, which saves the start-up and imports the kernel already paid for.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    _kernel_environment()
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            str(notebooks_dir() / notebook),
            str(output),
            parameters=parameters,
            kernel_name="python3",
            progress_bar=progress,
            cwd=str(project_root()),
            log_output=False,
            request_save_on_cell_execute=False,
            # the kernel's start-up chatter is not the user's business; cell errors still surface
            extra_arguments=[KERNEL_QUIET],
            **({"km": kernel} if kernel is not None else {}),
        )
    except PapermillExecutionError as error:
        raise SuiteError(f"{notebook} stopped: {error.ename}: {error.evalue}", output) from None
    return output


def execute_with_kernel(
    notebook: str,
    staging: Path,
    parameters: dict[str, object],
    new_kernel: KernelFactory | None = None,
    then: Callable[[Path], object] | None = None,
) -> Path:
    """Execute one notebook in a kernel of its own from ``new_kernel`` (default: an ordinary kernel).

    The kernel is stopped when the notebook is done, whatever happened; ``then`` is called with the executed
    notebook after a success.
    """
    kernel = new_kernel() if new_kernel is not None else start_kernel(project_root())
    try:
        executed = execute(notebook, staging / notebook, parameters, progress=False, kernel=kernel)
    finally:
        shutdown([kernel])
    if then is not None:
        then(executed)
    return executed


#: the document hooks import from several threads; one at a time (see _execute_parallel)
_DOCUMENT_IMPORTS = threading.Lock()


def _export_html(notebook: Path) -> None:
    """The executed notebook as code-free HTML beside it; filed with it, reused by the documents.

    Never fails the validation: without an export the documents step exports again, and reports a failure.
    """
    export = notebook.with_suffix(".html")
    try:
        with _DOCUMENT_IMPORTS:
            from workbench.reports import notebook_html

        notebook_html(notebook, export)
    except Exception:
        export.unlink(missing_ok=True)


def _prepare_documents(model: str, version: int | str) -> None:
    """Load the printing stack and export the version's earlier notebooks while the validation runs.

    Only a head start: anything that fails here is done again, and reported, when the documents are built.
    """
    try:
        with _DOCUMENT_IMPORTS:
            import weasyprint  # noqa: F401

            from workbench.reports import export_notebooks

        export_notebooks(version_reports_dir(model, version))
    except Exception:
        pass


def run_suite(
    spec_path: str | Path,
    *,
    developer: User,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    lineage: dict[str, str] | None = None,
    reason: str | None = None,
) -> SuiteResult:
    """Validate the spec and data, then run data validation and training; returns the registered version.

    ``developer`` is an authenticated user with the developer role; the registration is an audited action.
    ``lineage`` tags (e.g. the monitoring run a retraining answers) go on the run before any notebook runs,
    so a failed attempt is traceable too, and on the registered version; ``reason`` is the audit's reason.
    """
    from workbench.data import load_model_data, read_spec
    from workbench.registry import configure, start_pipeline_run, tracking_uri, version_for_run

    spec_file = Path(spec_path).expanduser().resolve()
    spec = read_spec(spec_file)
    data = load_model_data(spec)
    echo(f"spec {spec_file} is valid; data {data.source}: {len(data.frame)} rows, sha256 {data.sha256[:12]}...")
    uri = tracking_uri()
    client = configure(uri)
    if not developer.has("developer"):
        raise PermissionError(f"{developer.name} does not hold the developer role needed to train and register")
    run_id = start_pipeline_run(spec, developer=developer.name, client=client)
    for key, value in (lineage or {}).items():
        client.set_tag(run_id, key, value)
    echo(f"registry {uri}; run {run_id}")
    parameters = {"spec_path": str(spec_file), "run_id": run_id, "tracking_uri": uri, "developer": developer.name}
    staging = reports_root() / spec.name / "runs" / run_id
    executed = _execute_all(DEVELOPMENT_SUITE, staging, parameters, client, run_id, progress, echo)
    version = version_for_run(client, spec.name, run_id)
    if version is None:
        client.set_terminated(run_id, "FAILED")
        raise SuiteError(f"the suite finished but registered no version of {spec.name!r}")
    for key, value in (lineage or {}).items():
        client.set_model_version_tag(spec.name, version.version, key, value)
    saved = _file_notebooks(executed, staging, spec.name, version.version, client, run_id)
    client.set_terminated(run_id, "FINISHED")
    _governance(client).register(
        developer, spec.name, int(version.version), reason or f"trained from spec {spec_file.name} in run {run_id}"
    )
    metrics = client.get_run(run_id).data.metrics
    return SuiteResult(spec.name, int(version.version), run_id, saved[0].parent, saved, metrics)


def _execute_all(
    notebooks: list[str],
    staging: Path,
    parameters: dict[str, object],
    client,
    run_id: str,
    progress: bool,
    echo: Callable[[str], None],
) -> list[Path]:
    """Execute notebooks in order; on failure log the failed notebook, mark the run FAILED and re-raise."""
    executed: list[Path] = []
    try:
        for number, notebook in enumerate(notebooks, start=1):
            echo(f"[{number}/{len(notebooks)}] {notebook}")
            executed.append(execute(notebook, staging / notebook, parameters, progress))
    except SuiteError as error:
        if error.notebook is not None and error.notebook.is_file():
            client.log_artifact(run_id, str(error.notebook), "notebooks")
        client.set_terminated(run_id, "FAILED")
        raise
    return executed


def _execute_parallel(
    notebooks: list[str],
    staging: Path,
    parameters: dict[str, object],
    client,
    run_id: str,
    echo: Callable[[str], None],
    new_kernel: KernelFactory,
    then: Callable[[Path], object] | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> list[Path]:
    """Execute notebooks side by side, each in a kernel of its own, as many at a time as there are cores.

    The validator's notebooks only read the registry and write separate evidence folders, so they can run
    concurrently; they are started in the order given (longest first). ``then`` runs on each executed
    notebook in its worker, ``meanwhile`` once a worker is free of notebooks (it must not raise). Any
    failure fails the run; the executed copy of a failed notebook is logged.
    """
    from concurrent.futures import ThreadPoolExecutor

    # imported here, before the threads: two threads importing one package at once can meet a partially
    # initialised module ("cannot import name ... from partially initialized module")
    import jupyter_client.manager  # noqa: F401
    import papermill  # noqa: F401

    workers = max(1, min(len(notebooks), os.cpu_count() or 1))
    echo(f"running {', '.join(notebooks)}, {workers} at a time")
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(execute_with_kernel, notebook, staging, parameters, new_kernel, then) for notebook in notebooks
        ]
        if meanwhile is not None:  # queued last: it takes the first core a notebook leaves free
            pool.submit(meanwhile)
    failures = []
    executed = []
    for notebook, future in zip(notebooks, futures, strict=True):
        error = future.exception()
        if error is None:
            executed.append(future.result())
            echo(f"  done {notebook}")
        else:
            failures.append(error)
    if failures:
        for error in failures:
            if isinstance(error, SuiteError) and error.notebook is not None and error.notebook.is_file():
                client.log_artifact(run_id, str(error.notebook), "notebooks")
        client.set_terminated(run_id, "FAILED")
        first = failures[0]
        raise first if isinstance(first, SuiteError) else SuiteError(str(first))
    return executed


def _file_notebooks(
    executed: list[Path], staging: Path, model: str, version: int | str, client, run_id: str
) -> list[Path]:
    """Move executed notebooks (and HTML exports made of them) to ``reports/<model>/v<version>/``; log them."""
    target = version_reports_dir(model, version)
    target.mkdir(parents=True, exist_ok=True)
    saved = []
    for path in executed:
        destination = target / path.name
        export = path.with_suffix(".html")
        if export.is_file():  # a move keeps file times: the export stays newer than its notebook
            shutil.move(str(export), destination.with_suffix(".html"))
        shutil.move(str(path), destination)
        client.log_artifact(run_id, str(destination), "notebooks")
        saved.append(destination)
    shutil.rmtree(staging, ignore_errors=True)
    return saved


@dataclass
class ValidationSuiteResult:
    """What one independent validation produced: the conclusion, the validator's run and the notebooks."""

    model: str
    version: int
    run_id: str
    outcome: str
    open_findings: dict[str, int]
    notebooks: list[Path] = field(default_factory=list)
    blocking: list[dict[str, Any]] = field(default_factory=list)

    def next_steps(self) -> list[str]:
        """What the people involved can do now, in the order they would do it."""
        if not self.blocking:
            return [
                f"the committee decides: workbench approve {self.model} {self.version} --user APPROVER --comment ..."
            ]
        steps = [f"remediate each open high finding ({len(self.blocking)}):"]
        steps += [f"  {f['finding_id']}: {f['title']} -> {f['remediation']}" for f in self.blocking]
        steps += [
            f"then re-validate: workbench validate {self.model} {self.version} (or train a new version: workbench run)",
            "or the committee approves despite them, in writing: workbench approve "
            f"{self.model} {self.version} --user APPROVER --comment ... --override JUSTIFICATION",
        ]
        return steps


def run_validation_suite(
    name: str,
    version: int,
    *,
    validator: User,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    new_kernel: KernelFactory | None = None,
    prepare_documents: bool = False,
) -> ValidationSuiteResult:
    """Run 03-05 as the validator against a registered version, then conclude: validated or findings open.

    ``new_kernel`` gives each notebook its kernel (see :func:`workbench._kernels.kernel_source`, which a
    command starts before its own imports); without it a kernel fork server is started here. With
    ``prepare_documents`` the time the notebooks leave free goes to the documents that follow: the
    notebooks are exported to HTML as they finish and the printing stack is loaded.
    """
    from workbench.registry import conclude_validation, configure, get_version, start_validation_run, tracking_uri

    uri = tracking_uri()
    client = configure(uri)
    record = get_version(client, name, version)
    governance = _governance(client)
    governance.start_validation(validator, name, int(record.version))
    run_id = start_validation_run(client, name, record.version, validator.name)
    echo(f"validating {name} version {record.version} as {validator.name}; run {run_id}")
    parameters = {
        "model_name": name,
        "version": int(record.version),
        "tracking_uri": uri,
        "validator": validator.name,
        "run_id": run_id,
        "interactive": False,
    }
    staging = reports_root() / name / "runs" / run_id
    extras = {}
    if prepare_documents:
        extras = {"then": _export_html, "meanwhile": lambda: _prepare_documents(name, record.version)}
    try:
        with kernel_source(project_root()) if new_kernel is None else nullcontext(new_kernel) as kernels:
            executed = _execute_parallel(VALIDATION_SUITE, staging, parameters, client, run_id, echo, kernels, **extras)
    except SuiteError as error:  # the run is already marked FAILED with the failed notebook logged
        error.next_step = (
            f"nothing was concluded on {name} version {record.version}; fix the cause above (the executed notebook "
            f"shows where it stopped), then run: workbench validate {name} {record.version}"
        )
        raise
    conclusion = conclude_validation(client, name, record.version, run_id)
    saved = _file_notebooks(executed, staging, name, record.version, client, run_id)
    client.set_terminated(run_id, "FINISHED")
    counts = conclusion["open_findings"]
    governance.record_validation(
        validator,
        name,
        int(record.version),
        conclusion["outcome"],
        f"validation suite: {counts['high']} high, {counts['medium']} medium, {counts['low']} low open findings",
        counts,
        run_id,
    )
    blocking = [f for f in conclusion["findings"] if f["severity"] == "high" and f["status"] == "open"]
    return ValidationSuiteResult(
        name, int(record.version), run_id, conclusion["outcome"], conclusion["open_findings"], saved, blocking
    )
