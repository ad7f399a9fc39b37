"""The real notebooks, run by Papermill through the `workbench` CLI, into a temporary registry."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml
from _pdf import page_texts, words_outside_page
from conftest import GERMAN_SPEC, copy_project, csv_spec, write_german_csv
from mlflow import MlflowClient

from workbench.provenance import directory_sha256

pytestmark = pytest.mark.e2e
GERMAN_SHA256 = "b21f3d81db8071257d5ff1deaeba1fd4303b62712e6fcc9715c7a86202cb5871"
WORKBENCH = [sys.executable, "-m", "workbench.cli"]


DEMO_PASSWORD = "demo-password"


def workbench(
    project: Path, *args: str, timeout: int = 600, password: str = DEMO_PASSWORD
) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"MLFLOW_TRACKING_URI", "WORKBENCH_REPORTS", "WORKBENCH_USERS", "WORKBENCH_AUDIT"}
    }
    env["WORKBENCH_HOME"] = str(project)
    env["WORKBENCH_PASSWORD"] = password
    return subprocess.run([*WORKBENCH, *args], cwd=project, env=env, capture_output=True, text=True, timeout=timeout)


def client_for(project: Path) -> MlflowClient:
    uri = f"sqlite:///{project / 'registry_store' / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def new_project(root: Path) -> Path:
    """An empty project with the demonstration users (priya developer, marco validator, helen approver, ...)."""
    from workbench.governance import DEMO_USERS, UserStore

    (root / "registry_store").mkdir(parents=True)
    (root / "reports").mkdir()
    users = UserStore(root / "registry_store" / "governance" / "users.json")
    for name, roles in DEMO_USERS.items():
        users.add(name, roles, DEMO_PASSWORD)
    return root


class Outcome(NamedTuple):
    project: Path  # the test's own copy of the project the command ran in
    result: subprocess.CompletedProcess  # the command's output, which names the project it ran in:
    ran_in: Path  # the template, never used directly (``copy_project``)


@pytest.fixture(scope="module")
def german_run_template(tmp_path_factory) -> Outcome:
    """`workbench run` of the German spec by priya, once: version 1 registered, status development."""
    project = new_project(tmp_path_factory.mktemp("german-template"))
    result = workbench(project, "run", str(GERMAN_SPEC), "--developer", "priya", "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    return Outcome(project, result, project)


@pytest.fixture
def german_run(german_run_template, tmp_path) -> Outcome:
    """The test's own copy of the project right after `workbench run`, and the run's output."""
    return german_run_template._replace(project=copy_project(german_run_template.ran_in, tmp_path / "german"))


def test_run_registers_a_development_version(german_run):
    project, result = german_run.project, german_run.result
    assert "registered german_credit version 1 (status development)" in result.stdout
    client = client_for(project)
    version = client.get_model_version("german_credit", "1")
    tags = version.tags
    assert tags["status"] == "development"
    assert tags["developed_by"] == "priya"
    assert tags["data_sha256"] == GERMAN_SHA256
    assert len(tags["spec_sha256"]) == 64 and len(tags["split_sha256"]) == 64
    assert tags["model_family"] in {"scorecard_logit", "gradient_boosting"}
    assert tags["git_sha"] and tags["environment_sha256"]
    assert tags["training_run_id"] == version.run_id

    run = client.get_run(version.run_id)
    assert run.info.status == "FINISHED"
    metrics = run.data.metrics
    assert metrics["data.n_rows"] == 1000 and metrics["data.blocking_failures"] == 0
    assert 0.70 < metrics["validation_auc"] < 0.85
    assert metrics["n_validation"] == 300
    assert run.data.params["split.seed"] == "20240601"

    artifacts = {
        a.path
        for folder in ("notebooks", "spec", "environment", "data_validation", "training")
        for a in client.list_artifacts(version.run_id, folder)
    }
    assert {
        "notebooks/01_data_validation.ipynb",
        "notebooks/02_train.ipynb",
        "spec/spec.json",
        "environment/environment.lock.txt",
        "data_validation/data_validation.json",
        "training/candidates.csv",
        "training/split.json",
    } <= artifacts


def test_registered_artefact_matches_its_hash_and_signature(german_run, tmp_path):
    project = german_run.project
    client = client_for(project)
    version = client.get_model_version("german_credit", "1")
    local = client.download_artifacts(version.run_id, "", str(tmp_path / "run"))
    assert Path(local).is_dir()
    import mlflow
    from conftest import registry_client

    with registry_client(project):
        model_dir = mlflow.artifacts.download_artifacts("models:/german_credit/1", dst_path=str(tmp_path / "model"))
    assert directory_sha256(model_dir) == version.tags["model_sha256"]
    mlmodel = yaml.safe_load((Path(model_dir) / "MLmodel").read_text())
    inputs = json.loads(mlmodel["signature"]["inputs"])
    assert [c["name"] for c in inputs][:2] == ["duration_months", "credit_amount"]
    assert "sex" not in {c["name"] for c in inputs}
    assert mlmodel["flavors"]["python_function"]["predict_fn"] == "predict_proba"


def test_executed_notebooks_are_filed_under_the_version(german_run):
    project, result = german_run.project, german_run.result
    folder = project / "reports" / "german_credit" / "v1"
    assert sorted(p.name for p in folder.glob("*.ipynb")) == ["01_data_validation.ipynb", "02_train.ipynb"]
    executed = (folder / "02_train.ipynb").read_text()
    assert "registered german_credit version 1: status development" in executed
    assert str(german_run.ran_in / folder.relative_to(project)) in result.stdout  # where the run filed them


def test_reproduce_reports_identical(german_run):
    project = german_run.project
    result = workbench(project, "reproduce", "german_credit", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "IDENTICAL" in result.stdout
    assert "predictions on 300 validation rows: max difference 0" in result.stdout


def test_reproduce_unknown_version_is_a_clear_error(german_run):
    project = german_run.project
    result = workbench(project, "reproduce", "german_credit", "9")
    assert result.returncode == 2
    assert "model 'german_credit' has no version 9 (versions: 1)" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_spec_fails_in_the_first_seconds(tmp_path, spec_dict):
    project = new_project(tmp_path / "p")
    spec_dict["features"]["numeric"][1] = "credit_amout"
    spec_dict["decision"]["adverse_action_texts"]["credit_amout"] = spec_dict["decision"]["adverse_action_texts"].pop(
        "credit_amount"
    )
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(spec_dict))
    started = time.perf_counter()
    result = workbench(project, "run", str(path), "--developer", "priya")
    assert result.returncode == 2
    assert (
        "features.numeric[1]: 'credit_amout' is not a column of shipped data set 'german_credit' "
        "(did you mean 'credit_amount'?)" in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert time.perf_counter() - started < 30
    assert not (project / "registry_store" / "mlflow.db").exists()


def test_csv_spec_reproduces_and_refuses_changed_data(tmp_path, spec_dict):
    project = new_project(tmp_path / "csv")
    data = write_german_csv(tmp_path / "loans.csv")
    path = tmp_path / "loans.yaml"
    path.write_text(yaml.safe_dump(csv_spec(spec_dict, data)))
    result = workbench(project, "run", str(path), "--developer", "priya", "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr

    text = data.read_text().replace(",1169,", ",1170,", 1)
    data.write_text(text)
    result = workbench(project, "reproduce", "german_credit_csv", "1")
    assert result.returncode == 2
    assert "the data changed since it was recorded" in result.stderr
    assert "Traceback" not in result.stderr


def test_blocking_data_problem_stops_the_suite(tmp_path, spec_dict):
    project = new_project(tmp_path / "bad")
    data = write_german_csv(tmp_path / "loans.csv")
    lines = data.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[5].split(",")
    cells[header.index("credit_amount")] = "n/a-amount"
    lines[5] = ",".join(cells)
    data.write_text("\n".join(lines) + "\n")
    path = tmp_path / "loans.yaml"
    path.write_text(yaml.safe_dump(csv_spec(spec_dict, data)))
    result = workbench(project, "run", str(path), "--developer", "priya", "--no-progress")
    assert result.returncode == 2
    assert "01_data_validation.ipynb stopped: DataValidationError" in result.stderr
    assert "numeric feature 'credit_amount' holds non-numeric values ('n/a-amount' in 1 row(s))" in result.stderr
    client = client_for(project)
    assert client.search_model_versions("name='german_credit_csv'") == []
    failed = client.search_runs([client.get_experiment_by_name("german_credit_csv").experiment_id])
    assert failed[0].info.status == "FAILED"
    assert failed[0].data.tags["workbench.data_validation"] == "failed"


# ---- independent validation and documents on the same registered version -------------------------------------


def test_developer_cannot_validate_own_version(german_run):
    project = german_run.project
    result = workbench(project, "validate", "german_credit", "1", "--validator", "priya")
    assert result.returncode == 2
    assert "priya developed german_credit/1 and cannot validate it" in result.stderr
    assert "Traceback" not in result.stderr
    from workbench.governance import AuditTrail

    trail = AuditTrail(project / "registry_store" / "governance" / "audit.jsonl")
    actions = [(r["actor"], r["action"], r["outcome"]) for r in trail.records("german_credit/1")]
    assert ("priya", "start_validation", "refused") in actions  # the refusal is on the record


def test_validating_a_missing_version_fails_cleanly(german_run):
    project = german_run.project
    result = workbench(project, "validate", "german_credit", "7", "--validator", "marco")
    assert result.returncode == 2
    assert "model 'german_credit' has no version 7" in result.stderr
    assert "Traceback" not in result.stderr


def test_documents_need_a_validation_first(german_run):
    project = german_run.project
    result = workbench(project, "document", "german_credit", "1")
    assert result.returncode == 2
    assert "has no validation evidence yet; run `workbench validate german_credit 1`" in result.stderr


@pytest.fixture(scope="module")
def validated_template(german_run_template, tmp_path_factory) -> Outcome:
    """A copy of the run project in which marco validated version 1 and built its documents, once."""
    project = copy_project(german_run_template.ran_in, tmp_path_factory.mktemp("validated-template"))
    result = workbench(project, "validate", "german_credit", "1", "--validator", "marco", "--no-progress", "--document")
    assert result.returncode == 0, result.stdout + result.stderr
    return Outcome(project, result, project)


@pytest.fixture
def validated(validated_template, tmp_path) -> Outcome:
    """The test's own copy of the project right after the validation, and the validation's output."""
    return validated_template._replace(project=copy_project(validated_template.ran_in, tmp_path / "validated"))


def test_validation_is_recorded_on_the_version(validated):
    project, result = validated.project, validated.result
    client = client_for(project)
    tags = client.get_model_version("german_credit", "1").tags
    assert tags["validated_by"] == "marco"
    high = int(tags["open_findings_high"])
    assert tags["validation_outcome"] == ("validated" if high == 0 else "findings open")
    assert tags["status"] == ("validated" if high == 0 else "development")
    from workbench.governance import AuditTrail

    trail = AuditTrail(project / "registry_store" / "governance" / "audit.jsonl")
    actions = [(r["actor"], r["action"], r["outcome"]) for r in trail.records("german_credit/1")]
    assert ("priya", "register", "accepted") in actions
    assert ("marco", "validate", "accepted") in actions
    assert f"{tags['validation_outcome'].upper()}" in result.stdout

    run_id = tags["validation_run_id"]
    run = client.get_run(run_id)
    assert run.data.tags["workbench.validator"] == "marco"
    assert run.data.tags["workbench.kind"] == "validation"
    assert run.info.run_id != client.get_model_version("german_credit", "1").run_id
    paths = {
        a.path
        for folder in ("validation", "fairness", "explainability", "notebooks")
        for a in client.list_artifacts(run_id, folder)
    }
    assert {
        "validation/validation.json",
        "fairness/fairness.json",
        "explainability/explainability.json",
        "notebooks/03_validation.ipynb",
        "notebooks/04_fairness.ipynb",
        "notebooks/05_explainability.ipynb",
        "validation/figures",
    } <= paths
    local = Path(client.download_artifacts(run_id, "validation/validation.json", str(project / "dl")))
    document = json.loads(local.read_text())
    assert len(document["results"]) >= 30
    assert run.data.metrics["validation.auc"] == next(
        r["values"]["auc"] for r in document["results"] if r["test_id"] == "discrimination.auc"
    )


SR117_SECTIONS = (
    "1 Executive summary",
    "2 Purpose, scope, intended use and users",
    "3 Data: sources, lineage, quality, representativeness",
    "4 Methodology and conceptual soundness",
    "5 Performance",
    "6 Outcomes analysis and back-testing",
    "7 Fairness and disparate impact",
    "8 Explainability and adverse-action reasons",
    "9 Ongoing monitoring plan",
    "10 Findings and limitations",
    "11 Approvals, change history and sign-off",
    "12 Reproducibility appendix",
    "Appendix A: regulatory cross-reference",
    "Appendix B: validation test catalogue",
)


def test_documents_hold_every_section_and_the_headline_numbers(validated):
    from pypdf import PdfReader

    project, validation = validated.project, validated.result
    folder = project / "reports" / "german_credit" / "v1"
    built_with_the_validation = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.htm*")}
    assert len(built_with_the_validation) == 7, validation.stdout  # 2 documents, 5 notebooks
    assert "documents of german_credit version 1" in validation.stdout
    result = workbench(project, "document", "german_credit", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    # the notebooks' exports made as they finished are kept; the documents are built again
    rebuilt = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.htm*")}
    for name, when in rebuilt.items():
        assert (when == built_with_the_validation[name]) == name.startswith("0"), name
    document = folder / "german_credit_v1_sr117_model_document.pdf"
    pages = page_texts(document)
    # one document printed whole: a cover, then at most 20 pages in all, each numbered once
    assert 12 <= len(pages) <= 20, len(pages)
    for number, page in enumerate(pages, start=1):
        assert " ".join(page.split()).count(f"page {number} of {len(pages)}") == 1, number
    # nothing clipped: no word of either document, nor of a notebook export, runs off its page
    for pdf in folder.glob("*.pdf"):
        assert words_outside_page(pdf) == [], pdf.name
    cover, contents = (" ".join(p.split()) for p in pages[:2])
    assert "Document control" in cover and "Awaiting approval" in cover and "Independent validator marco" in cover
    # the contents page gives each section's page, as WeasyPrint numbered it
    for title in SR117_SECTIONS:
        listed = re.search(re.escape(title) + r" \.+ ?(\d+)", contents)
        assert listed, (title, contents)
        assert title in " ".join(pages[int(listed.group(1)) - 1].split()), title
    text = " ".join(" ".join(pages).split())
    for heading in SR117_SECTIONS:
        assert heading in text, heading
    client = client_for(project)
    tags = client.get_model_version("german_credit", "1").tags
    metrics = client.get_run(tags["validation_run_id"]).data.metrics
    assert f"{metrics['validation.auc']:.3f}" in text
    assert f"{metrics['validation.gini']:.3f}" in text
    assert tags["model_sha256"][:40] in text.replace(" ", "")
    assert tags["data_sha256"][:40] in text.replace(" ", "")
    fairness = " ".join(p.extract_text() for p in PdfReader(folder / "german_credit_v1_fairness_report.pdf").pages)
    assert "four-fifths" in fairness and f"{metrics['fairness.disparate_impact.sex']:.3f}" in fairness
    code_free = (folder / "03_validation.html").read_text()
    assert "run_validation(ctx)" not in code_free and "discrimination.auc" in code_free
    documents = {a.path for a in client.list_artifacts(tags["validation_run_id"], "documents")}
    assert "documents/german_credit_v1_sr117_model_document.pdf" in documents


def test_committee_and_deployment_through_the_cli(validated):
    project = validated.project
    client = client_for(project)
    status = client.get_model_version("german_credit", "1").tags["status"]
    if status != "validated":  # the shipped model has open high-severity fairness findings
        refused = workbench(project, "approve", "german_credit", "1", "--user", "helen", "--comment", "fine")
        assert refused.returncode == 2 and "approve needs one of: validated" in refused.stderr
        approve_args = ["--override", "age-band gap accepted pending remediation plan R-17"]
    else:
        approve_args = []
    wrong_role = workbench(project, "approve", "german_credit", "1", "--user", "priya", "--comment", "mine")
    assert wrong_role.returncode == 2 and "priya does not hold the approver role" in wrong_role.stderr
    bad_password = workbench(
        project, "approve", "german_credit", "1", "--user", "helen", "--comment", "x", password="guess-guess"
    )
    assert bad_password.returncode == 2 and "authentication failed" in bad_password.stderr
    approved = workbench(
        project,
        "approve",
        "german_credit",
        "1",
        "--user",
        "helen",
        "--comment",
        "fit for purpose",
        "--conditions",
        "monthly fairness monitoring",
        *approve_args,
    )
    assert approved.returncode == 0, approved.stderr
    promoted = workbench(
        project, "promote", "german_credit", "1", "--to", "champion", "--user", "sam", "--reason", "go live"
    )
    assert promoted.returncode == 0, promoted.stderr
    version = client.get_model_version("german_credit", "1")
    assert version.tags["status"] == "production" and version.aliases == ["champion"]
    assert version.tags["approved_model_sha256"] == version.tags["model_sha256"]
    # the rebuilt document's first page states the decision, its conditions and any override, as the audit
    # trail holds them: an approver's name typed into the registry's mirror is not what the document prints
    client.set_model_version_tag("german_credit", "1", "approved_by", "mallory")
    rebuilt = workbench(project, "document", "german_credit", "1")
    client.set_model_version_tag("german_credit", "1", "approved_by", "helen")
    assert rebuilt.returncode == 0, rebuilt.stderr
    folder = project / "reports" / "german_credit" / "v1"
    first = " ".join(page_texts(folder / "german_credit_v1_sr117_model_document.pdf")[0].split())
    assert "Approved by helen on" in first and "Conditions: monthly fairness monitoring" in first, first
    assert "lifecycle status now production" in first and "Awaiting approval" not in first
    assert "mallory" not in " ".join(page_texts(folder / "german_credit_v1_sr117_model_document.pdf"))
    if approve_args:
        assert "(override)" in first and "age-band gap accepted pending remediation plan R-17" in first

    verified = workbench(project, "audit", "verify")
    assert verified.returncode == 0 and "audit trail intact" in verified.stdout
    log = workbench(project, "audit", "log", "--model", "german_credit").stdout
    assert "promote_champion" in log and "REFUSED" in log
    inventory = workbench(project, "inventory").stdout
    assert "production" in inventory and "champion" in inventory

    trail = project / "registry_store" / "governance" / "audit.jsonl"
    lines = trail.read_text().splitlines()
    record = json.loads(lines[1])
    record["actor"] = "mallory"
    lines[1] = json.dumps(record, sort_keys=True)
    trail.write_text("\n".join(lines) + "\n")
    tampered = workbench(project, "audit", "verify")
    assert tampered.returncode == 1 and "record 2 (line 2) was edited" in tampered.stderr


def test_validation_notebooks_fail_cleanly_on_a_model_that_does_not_fit_its_spec(validated, german_spec, monkeypatch):
    """A version whose artefact takes other inputs than its recorded spec lists is refused by the notebooks."""
    from conftest import registry_client

    from workbench.data import load_model_data
    from workbench.registry import register_training, start_pipeline_run
    from workbench.training import train

    project = validated.project
    monkeypatch.setenv("WORKBENCH_HOME", str(project))
    narrow = german_spec.model_copy(
        update={"features": german_spec.features.model_copy(update={"numeric": german_spec.features.numeric[:-1]})}
    )
    data = load_model_data(german_spec)
    result = train(data, narrow)
    result.spec = german_spec  # the record claims the full feature list
    with registry_client(project) as client:
        run_id = start_pipeline_run(german_spec, developer="priya", client=client)
        version = register_training(result, run_id, developer="priya", client=client)
    outcome = workbench(project, "validate", "german_credit", str(version), "--validator", "marco", "--no-progress")
    assert outcome.returncode == 2
    assert "stopped: ModelMismatchError" in outcome.stderr
    assert "missing from the model ['people_liable']" in outcome.stderr
    assert "Traceback" not in outcome.stderr


def test_every_action_needs_configured_users(tmp_path):
    project = tmp_path / "bare"
    (project / "registry_store").mkdir(parents=True)
    result = workbench(project, "run", str(GERMAN_SPEC), "--developer", "priya")
    assert result.returncode == 2
    assert "no users are configured: add them with `workbench users add NAME --role ROLE`" in result.stderr
    assert not (project / "registry_store" / "mlflow.db").exists()
