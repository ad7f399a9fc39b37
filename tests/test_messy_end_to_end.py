"""Messy real-world variants onboarded from one spec on the raw file, through `workbench run --validator`.

Each variant goes the whole way (data validation, training, independent validation, fairness, explanations,
documents) to a concluded validation with no traceback; what made it messy shows up as named findings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import GERMAN_SPEC

pytestmark = pytest.mark.e2e
PASSWORD = "messy-password"


def _project(root: Path) -> Path:
    from workbench.governance import DEMO_USERS, UserStore

    (root / "registry_store").mkdir(parents=True)
    users = UserStore(root / "registry_store" / "governance" / "users.json")
    for name, roles in DEMO_USERS.items():
        users.add(name, roles, PASSWORD)
    return root


def _workbench(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "WORKBENCH_"))}
    env |= {"WORKBENCH_HOME": str(project), "WORKBENCH_PASSWORD": PASSWORD}
    command = [sys.executable, "-m", "workbench.cli", *args]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=900)


def _messy_loans(seed: int = 11) -> pd.DataFrame:
    """The German applications as a lender's raw extract: gaps, aliases, a leak, codes, three outcomes."""
    from workbench.datasets import load_german_credit

    rng = np.random.default_rng(seed)
    frame = load_german_credit()
    for column in ("duration_months", "credit_amount", "age"):
        frame.loc[rng.random(len(frame)) < 0.1, column] = np.nan
    bad = frame["credit_risk"].eq("bad").to_numpy()
    frame["loan_status"] = np.where(
        bad, np.where(rng.random(len(frame)) < 0.5, "Charged Off", "Late (31-120 days)"), "Fully Paid"
    )
    counts = rng.integers(0, 3, size=(len(frame), 2))
    frame["cards_open"], frame["loans_open"] = counts.T
    frame["accounts_open"] = counts.sum(axis=1)
    frame["grade"] = frame["savings"].str.split(" ").str[0]
    frame["sub_grade"] = frame["savings"]
    frame["sold_to"] = np.where(bad & (rng.random(len(frame)) < 0.97), "not sold", "investor")
    frame["sex_code"] = frame["sex"].map({"male": 0, "female": 1}).astype(float)
    frame.loc[rng.random(len(frame)) < 0.05, "sex_code"] = np.nan
    return frame.drop(columns=["credit_risk", "sex"])


def _messy_spec(csv: Path) -> dict:
    spec = yaml.safe_load(GERMAN_SPEC.read_text())
    spec["name"] = "messy_loans"
    spec["dataset"] = {"path": str(csv)}
    spec["target"] = {"column": "loan_status", "adverse_value": ["Charged Off", "Late (31-120 days)"]}
    spec["features"]["numeric"] += ["cards_open", "loans_open", "accounts_open"]
    spec["features"]["categorical"] = [c for c in spec["features"]["categorical"] if c != "savings"]
    spec["features"]["categorical"] += ["grade", "sub_grade", "sold_to"]
    spec["decision"]["adverse_action_texts"].pop("savings", None)
    spec["protected_attributes"][0] = {"name": "sex_code", "reference": 0, "derived_from": ["personal_status_sex"]}
    spec["protected_attributes"].append({"name": "foreign_worker", "reference": "no"})
    spec["candidates"] = [
        {"family": "scorecard_logit"},
        {"family": "gradient_boosting", "params": {"n_estimators": 60}},
    ]
    return spec


def _findings(project: Path, name: str) -> list[dict]:
    found = sorted((project / "reports" / name / "v1").glob("*findings*.json"))
    if found:
        return json.loads(found[0].read_text())["findings"]
    from mlflow import MlflowClient

    uri = f"sqlite:///{project / 'registry_store' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run_id = client.get_model_version(name, "1").tags["validation_run_id"]
    path = client.download_artifacts(run_id, "findings.json", str(project))
    return json.loads(Path(path).read_text())["findings"]


def test_a_messy_extract_onboards_from_one_spec_and_concludes(tmp_path):
    project = _project(tmp_path / "project")
    csv = project / "loans.csv"
    _messy_loans().to_csv(csv, index=False)
    spec_path = project / "messy_loans.yaml"
    spec_path.write_text(yaml.safe_dump(_messy_spec(csv), sort_keys=False))
    result = _workbench(project, "run", str(spec_path), "--developer", "priya", "--validator", "marco", "--no-progress")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output
    assert "messy_loans version 1: FINDINGS OPEN" in output and "next:" in output
    documents = project / "reports" / "messy_loans" / "v1"
    assert (documents / "messy_loans_v1_sr117_model_document.pdf").stat().st_size > 10_000
    assert (documents / "messy_loans_v1_fairness_report.pdf").stat().st_size > 5_000
    findings = _findings(project, "messy_loans")
    ids = [f["finding_id"] for f in findings]
    assert len(ids) == len(set(ids)), "finding ids repeat"
    high = {f["source"]: f for f in findings if f["severity"] == "high"}
    assert "sold_to" in high["data.leakage"]["detail"]
    # tiny intersections are never the reason for a high finding
    assert not any("foreign_worker" in f["detail"] and "&" in f["title"] for f in high.values())
    data_validation = json.loads(next((project / "registry_store").rglob("data_validation.json")).read_text())
    checks = {c["id"]: c for c in data_validation["checks"]}
    assert "accounts_open aliased" in checks["aliasing"]["message"] and "grade aliased" in checks["aliasing"]["message"]
    mapping = {row["value"]: row["modelled_as"] for row in checks["class_balance"]["table"]}
    assert mapping == {
        "Charged Off": "adverse (1)",
        "Late (31-120 days)": "adverse (1)",
        "Fully Paid": "favourable (0)",
    }


def test_data_without_a_protected_attribute_concludes_and_says_so(tmp_path):
    project = _project(tmp_path / "project")
    spec = yaml.safe_load(GERMAN_SPEC.read_text())
    spec["name"] = "no_groups"
    spec["protected_attributes"] = []
    spec["candidates"] = [{"family": "scorecard_logit"}]
    spec_path = project / "no_groups.yaml"
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = _workbench(project, "run", str(spec_path), "--developer", "priya", "--validator", "marco", "--no-progress")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output
    report = (project / "reports" / "no_groups" / "v1" / "no_groups_v1_fairness_report.html").read_text()
    assert "no protected attribute" in report.lower()
    findings = _findings(project, "no_groups")
    assert any(f["severity"] == "medium" and "protected attribute" in f["title"].lower() for f in findings)
