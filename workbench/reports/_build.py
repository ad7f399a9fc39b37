"""Building the SR 11-7 model document and the fairness report for a validated version.

Both are assembled from the registry's records (see :mod:`workbench.reports._evidence`), written as HTML
and PDF to ``reports/<model>/v<version>/`` and logged to the validator's run under ``documents/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow import MlflowClient

from workbench.estimators import FAMILIES
from workbench.kinds import kind_of
from workbench.paths import version_reports_dir
from workbench.policy import (
    DOCUMENT_SECTIONS,
    MONITORING_FREQUENCY,
    REVALIDATION_MONTHS,
    SECTION_CATEGORIES,
    SEVERITY_ORDER,
    load_framework,
)
from workbench.registry import SERVABLE_STATUSES, Status, configure
from workbench.reports._evidence import Evidence, collect_evidence
from workbench.reports._render import notebook_html, pdf_bytes, render_html, write_pdf

KEY_PACKAGES = (
    "mlflow",
    "scikit-learn",
    "statsmodels",
    "pandas",
    "numpy",
    "scipy",
    "shap",
    "lime",
    "fairlearn",
    "skops",
    "papermill",
)


@dataclass
class DocumentSet:
    """Paths of the documents built for one version."""

    sr117_html: Path
    sr117_pdf: Path
    fairness_html: Path
    fairness_pdf: Path
    notebooks_html: list[Path]

    def all(self) -> list[Path]:
        """Every file built."""
        return [self.sr117_html, self.sr117_pdf, self.fairness_html, self.fairness_pdf, *self.notebooks_html]


def _results(evidence: Evidence) -> list[dict[str, Any]]:
    results = []
    for result in evidence.documents["validation"]["results"]:
        uris = [evidence.figure(f"validation/{result['test_id']}.{name}") for name in result["figures"]]
        results.append(result | {"figure_uris": [u for u in uris if u]})
    return results


def _synthetic_data(evidence: Evidence) -> list[dict[str, str]]:
    """The calibration table of a generated (synthetic) data set, printed in every document of its models."""
    from workbench.datasets import CALIBRATION, GENERATED, SOURCES

    if evidence.spec.dataset.name not in GENERATED:
        return []
    rows = [{"figure": f, "published": p, "generator": g, "source": s} for f, p, g, s in CALIBRATION]
    return rows + [
        {"figure": "source", "published": text, "generator": "", "source": key} for key, text in SOURCES.items()
    ]


def _result_table(evidence: Evidence, test_id: str, table: str) -> list[dict[str, Any]]:
    """One table of one recorded test result (empty when the test did not run or skipped)."""
    for result in evidence.documents["validation"]["results"]:
        if result["test_id"] == test_id:
            return result.get("tables", {}).get(table, [])
    return []


def _headline(evidence: Evidence) -> dict[str, Any]:
    """The headline figures the validation recorded (declared by the tests in the validation registry)."""
    return evidence.documents["validation"].get("headline", {})


def _packages(lock: str) -> list[str]:
    lines = lock.splitlines()
    python = next((line[2:] for line in lines if line.startswith("# python")), "python ?")
    pins = {line.split("==")[0]: line for line in lines if "==" in line}
    return [python, *(pins[p] for p in KEY_PACKAGES if p in pins)]


def _monitoring(evidence: Evidence) -> pd.DataFrame:
    t = evidence.spec.thresholds
    return pd.DataFrame(
        [
            {
                "measure": "score PSI against the validation sample",
                "warn": f"> {t.psi_warn}",
                "breach": f"> {t.max_psi}",
            },
            {"measure": "feature CSI, each input", "warn": f"> {t.psi_warn}", "breach": f"> {t.max_psi}"},
            {"measure": "AUC on matured outcomes", "warn": f"< {t.min_auc + 0.03:.2f}", "breach": f"< {t.min_auc}"},
            {"measure": "Gini on matured outcomes", "warn": "", "breach": f"< {t.min_gini}"},
            {"measure": "KS on matured outcomes", "warn": "", "breach": f"< {t.min_ks}"},
            {"measure": "calibration (Hosmer-Lemeshow p)", "warn": "", "breach": f"< {t.calibration_p_value}"},
            {
                "measure": "disparate-impact ratio, each protected attribute",
                "warn": "",
                "breach": f"< {t.disparate_impact_floor}",
            },
            {"measure": "approval rate and adverse rate among approved", "warn": "trend review", "breach": "committee"},
        ]
    )


def _history(evidence: Evidence) -> pd.DataFrame:
    """Approvals and change history from the audit trail (every accepted and refused action on the version)."""
    from workbench.governance import AuditTrail

    rows = AuditTrail().history(evidence.name, evidence.version, with_head=True)  # the head anchors the trail
    if not rows:
        rows = [
            {
                "time": evidence.created,
                "actor": evidence.tags.get("developed_by", ""),
                "action": "registered",
                "change": "-> development",
                "outcome": "accepted",
                "reason": "(no audit records found for this version)",
            }
        ]
    table = pd.DataFrame(rows)
    return table.drop(columns=[c for c in ("seq",) if c in table.columns])


def _limitations(evidence: Evidence, results: list[dict[str, Any]]) -> list[str]:
    n_val = int(evidence.training_metrics.get("n_validation", 0))
    headline = _headline(evidence)
    low, high = headline.get("auc_low"), headline.get("auc_high")
    items = [
        f"The development data has {evidence.data_validation.get('n_rows', '?')} rows; the validation sample has "
        f"{n_val}, so estimates are uncertain (AUC 95% CI {low:.3f}–{high:.3f}).",
    ]
    kind = kind_of(evidence.spec)
    items += list(kind.limitations)
    if kind.synthetic_note and _synthetic_data(evidence):
        items.append(kind.synthetic_note)
    for result in results:
        if result["outcome"] != "pass":
            test = evidence.documents["validation"].get("tests", {}).get(result["test_id"], {})
            if test.get("limitations"):
                items.append(f"{result['title']}: {test['limitations']}")
    return items


def _fairness_overview(fairness: dict[str, Any]) -> list[dict[str, Any]]:
    """Per attribute: its verdict and the sizes of the groups assessed and too few to assess (page 1 of the document).

    Evidence recorded before groups had a minimum size has no ``assessment`` column: every group counts as
    assessed there.
    """
    overview = []
    for row in fairness.get("summary", []):
        groups = fairness.get("groups", {}).get(row["attribute"], [])
        assessed = [g for g in groups if not str(g.get("assessment", "assessed")).endswith("too few to assess")]
        overview.append(
            {
                **row,
                "four_fifths": row.get("four_fifths", ""),
                "assessed_groups": [{"group": g["group"], "count": g["count"]} for g in assessed],
                "too_few": len(groups) - len(assessed),
            }
        )
    return overview


#: the document's sections as the cross-reference table names them
_SECTION_TITLES = {
    "summary": "1 Executive summary",
    "purpose": "2 Purpose and use",
    "data": "3 Data",
    "methodology": "4 Methodology",
    "performance": "5 Performance",
    "outcomes": "6 Outcomes analysis",
    "fairness": "7 Fairness",
    "explainability": "8 Explainability",
    "monitoring": "9 Monitoring plan",
    "findings": "10 Findings",
    "approvals": "11 Approvals",
    "reproducibility": "12 Reproducibility",
}

#: who receives a model document unless the bank's own list replaces it
DISTRIBUTION = ("Model risk committee", "Model owner", "Model validation", "Internal audit")


def _frameworks(evidence: Evidence) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The frameworks the spec names (short name, title, issuer, status) and the cross-reference rows."""
    chosen = [load_framework(name) for name in evidence.spec.documentation.frameworks]
    frameworks = [
        {
            "short": f.short,
            "title": f.title,
            "issuer": f.issuer,
            "issued": f.issued,
            "status": f.status,
        }
        for f in chosen
    ]
    rows = [
        {"section": _SECTION_TITLES[section], "cells": ["; ".join(f.sections.get(section, [])) or "–" for f in chosen]}
        for section in DOCUMENT_SECTIONS
    ]
    return frameworks, rows


def _decision(evidence: Evidence) -> dict[str, Any]:
    """The committee's decision as page 1 states it: approved (conditions, override), refused, or pending."""
    tags = evidence.tags
    status = tags.get("status", "")
    approved = bool(tags.get("approved_by")) and status in {*SERVABLE_STATUSES, Status.ARCHIVED}
    if approved:
        when = tags.get("approval_date", "")[:10]
        return {
            "approved": True,
            "css": "approved",
            "title": f"Approved by {tags['approved_by']} on {when}"
            + (" (override)" if tags.get("approval_override") else ""),
            "text": f"The model risk committee's approver approved version {evidence.version} for use; lifecycle "
            f"status now {status}.",
            "conditions": tags.get("approval_conditions", ""),
            "override": tags.get("approval_override", ""),
            "comment": tags.get("approval_comment", ""),
        }
    if tags.get("rejected_by"):
        return {
            "approved": False,
            "css": "refused",
            "title": f"Rejected by {tags['rejected_by']}",
            "text": "The version was rejected and may not be used.",
        }
    outcome = evidence.conclusion.get("outcome", tags.get("validation_outcome", ""))
    if outcome == "validated":
        text = "Validated with no high-severity finding open; awaiting the committee's decision."
    else:
        text = (
            "High-severity findings are open: the version cannot be approved until they are remediated, or "
            "approved by an approver who records an override justification (which this page then shows)."
        )
    return {"approved": False, "css": "pending", "title": "Awaiting approval", "text": text}


def _signoff(evidence: Evidence, history: pd.DataFrame) -> list[dict[str, str]]:
    """Developer, validator, approver and deployer: who, when, and the audit record of the act."""
    acts = {
        "developer": ("register", "developed_by"),
        "validator": ("validate", "validated_by"),
        "approver": ("approve", "approved_by"),
        "deployer": ("promote", "deployed_by"),
    }
    accepted = history[history["outcome"] == "accepted"] if len(history) else history
    rows = []
    for role, (action, tag) in acts.items():
        name = evidence.tags.get(tag, "")
        done = accepted[accepted["action"].astype(str).str.startswith(action)] if len(accepted) else accepted
        if name and len(done):
            act = done.iloc[-1]
            rows.append(
                {"role": role, "name": name, "date": str(act["time"])[:10], "record": f"{act['action']}, {act['time']}"}
            )
        else:
            rows.append({"role": role, "name": name or "–", "date": "–", "record": "–" if name else "not yet"})
    return rows


def _hyperparameters(evidence: Evidence) -> list[dict[str, Any]]:
    """The chosen estimator's hyper-parameters as fitted: the spec's settings over the library's defaults."""
    family = evidence.tags.get("model_family")
    candidate = next((c for c in evidence.spec.candidates if c.family == family), None)
    if candidate is None or family not in FAMILIES:
        return []
    spec = evidence.spec
    pipeline = FAMILIES[family].build(
        list(spec.features.numeric),
        list(spec.features.categorical),
        min_category_count=spec.thresholds.min_category_count,
        seed=spec.split.seed,
        **dict(candidate.params),
    )
    model = pipeline.named_steps["model"]
    set_by_spec = set(candidate.params)
    params = model.get_params(deep=False) if hasattr(model, "get_params") else dict(candidate.params)
    return [
        {
            "parameter": f"{k} (spec)" if k in set_by_spec else k,
            "value": v if isinstance(v, int | float | bool) or v is None else str(v),
        }
        for k, v in sorted(params.items())
    ]


def sr117_context(evidence: Evidence) -> dict[str, Any]:
    """Everything the SR 11-7 template shows, by section."""
    results = _results(evidence)
    sections = {
        key: [r for c in categories for r in results if r["category"] == c]
        for key, categories in SECTION_CATEGORIES.items()
    }
    findings = sorted(evidence.conclusion.get("findings", []), key=lambda f: SEVERITY_ORDER[f["severity"]])
    fairness = evidence.documents["fairness"]
    data_checks = [
        {"check": c["id"], "title": c["title"], "outcome": c["outcome"], "message": c["message"]}
        for c in evidence.data_validation.get("checks", [])
    ]
    catalogue = [
        {"test": test_id, **info} for test_id, info in evidence.documents["validation"].get("tests", {}).items()
    ]
    spec = evidence.spec
    family = evidence.tags.get("model_family", "")
    history = _history(evidence)
    frameworks, crossref = _frameworks(evidence)
    decision = _decision(evidence)
    status = evidence.tags.get("status", "")
    return {
        "doc_title": f"{evidence.name} v{evidence.version} — SR 11-7 model document",
        "status": status,
        "decision": decision,
        "document_status": "final: approved version" if decision["approved"] else "for committee review",
        "people": {
            "developer": evidence.tags.get("developed_by", "–"),
            "validator": evidence.tags.get("validated_by", "–"),
            "approver": evidence.tags.get("approved_by", "pending"),
        },
        "distribution": list(DISTRIBUTION),
        "family_label": family.replace("_", " ") or "not recorded",
        "hyperparameters": _hyperparameters(evidence),
        "frameworks": frameworks,
        "crossref": crossref,
        "signoff": _signoff(evidence, history),
        "name": evidence.name,
        "version": evidence.version,
        "spec": spec,
        "tags": evidence.tags,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "outcome": evidence.conclusion.get("outcome", evidence.tags.get("validation_outcome", "")),
        "open_findings": evidence.conclusion.get("open_findings", {"high": 0, "medium": 0, "low": 0}),
        "counts": evidence.documents["validation"].get("counts", {}),
        "results": results,
        "sections": sections,
        "headline": _headline(evidence),
        "findings": findings,
        "high_findings": [f for f in findings if f["severity"] == "high"],
        "fairness": fairness,
        "fairness_overview": _fairness_overview(fairness),
        "min_group_size": fairness.get("min_group_size", evidence.spec.fairness.min_group_size),
        "explain": evidence.documents["explainability"],
        "figures": evidence.figures,
        "data_validation": evidence.data_validation,
        "data_checks": data_checks,
        "training_metrics": evidence.training_metrics,
        "candidates": evidence.candidates,
        # the coefficients describe the scorecard: shown only when the scorecard is the model in use
        "coefficients": evidence.coefficients if family.startswith("scorecard") else None,
        "selection": evidence.selection,
        "assumptions": list(kind_of(spec).assumptions),
        "revalidation_months": REVALIDATION_MONTHS[spec.risk_tier],
        "monitoring_frequency": MONITORING_FREQUENCY[spec.risk_tier],
        "monitoring": _monitoring(evidence),
        "limitations": _limitations(evidence, results),
        "history": history,
        "synthetic_data": _synthetic_data(evidence),
        "kind": kind_of(spec),
        "result_table": lambda test_id, table: _result_table(evidence, test_id, table),
        "packages": _packages(evidence.environment_lock),
        "training_run_id": evidence.training_run_id,
        "validation_run_id": evidence.validation_run_id,
        "tracking_uri": evidence.tracking_uri,
        "notebooks": evidence.notebooks,
        "catalogue": catalogue,
        "parameters": [{"parameter": k, "value": v} for k, v in sorted(evidence.training_params.items())],
    }


def fairness_context(evidence: Evidence) -> dict[str, Any]:
    """Everything the fairness report shows."""
    return {
        "doc_title": f"{evidence.name} v{evidence.version} — fairness report",
        "name": evidence.name,
        "version": evidence.version,
        "spec": evidence.spec,
        "fairness": evidence.documents["fairness"],
        "fairness_overview": _fairness_overview(evidence.documents["fairness"]),
        "min_group_size": evidence.documents["fairness"].get("min_group_size", evidence.spec.fairness.min_group_size),
        "figures": evidence.figures,
        "synthetic_data": _synthetic_data(evidence),
        "kind": kind_of(evidence.spec),
        "result_table": lambda test_id, table: _result_table(evidence, test_id, table),
        "validator": evidence.tags.get("validated_by", ""),
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
    }


@contextmanager
def _printers() -> Iterator[Executor | None]:
    """Two forked printing processes (imports already paid), or None where one core prints alone.

    WeasyPrint lays out a document on one core: the two documents print at once, each whole (so the contents
    page's page numbers and "page N of M" come from WeasyPrint itself), while this process exports notebooks.
    """
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods() or (os.cpu_count() or 1) < 2:
        yield None
        return
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork")) as pool:
        yield pool


def export_notebooks(folder: Path) -> list[Path]:
    """Each executed notebook in ``folder`` as code-free HTML beside it; an export newer than its notebook
    (made as the notebook finished, see :func:`workbench.pipeline.run_validation_suite`) is kept."""
    exported = []
    for notebook in sorted(folder.glob("0*.ipynb")):
        html = folder / f"{notebook.stem}.html"
        if not (html.is_file() and html.stat().st_mtime_ns >= notebook.stat().st_mtime_ns):
            notebook_html(notebook, html)
        exported.append(html)
    return exported


def build_documents(
    name: str, version: int | str, client: MlflowClient | None = None, output: Path | None = None, log: bool = True
) -> DocumentSet:
    """Write the SR 11-7 document and the fairness report (HTML and PDF) and log them to the version."""
    client = client or configure()
    evidence = collect_evidence(client, name, version)
    folder = output or version_reports_dir(name, evidence.version)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{name}_v{evidence.version}"
    sr117 = render_html("sr117.html.j2", sr117_context(evidence))
    fairness = render_html("fairness.html.j2", fairness_context(evidence))
    paths = DocumentSet(
        sr117_html=folder / f"{stem}_sr117_model_document.html",
        sr117_pdf=folder / f"{stem}_sr117_model_document.pdf",
        fairness_html=folder / f"{stem}_fairness_report.html",
        fairness_pdf=folder / f"{stem}_fairness_report.pdf",
        notebooks_html=[],
    )
    paths.sr117_html.write_text(sr117, encoding="utf-8")
    paths.fairness_html.write_text(fairness, encoding="utf-8")
    with _printers() as printers:
        if printers is not None:
            sr117_pdf = printers.submit(pdf_bytes, sr117)
            fairness_pdf = printers.submit(pdf_bytes, fairness)
            paths.notebooks_html = export_notebooks(folder)
            paths.fairness_pdf.write_bytes(fairness_pdf.result())
            paths.sr117_pdf.write_bytes(sr117_pdf.result())
        else:
            write_pdf(sr117, paths.sr117_pdf)
            write_pdf(fairness, paths.fairness_pdf)
            paths.notebooks_html = export_notebooks(folder)
    if log:
        for path in paths.all():
            client.log_artifact(evidence.validation_run_id, str(path), "documents")
        client.set_model_version_tag(name, str(evidence.version), "documents_run_id", evidence.validation_run_id)
    return paths
