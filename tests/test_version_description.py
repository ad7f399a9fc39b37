"""MLflow's version page shows the description in full: the workbench writes the key facts there as it acts."""

from __future__ import annotations

import pytest

from workbench.governance import MlflowVersionStore


@pytest.fixture
def store(tmp_path):
    from mlflow import MlflowClient

    client = MlflowClient(
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", registry_uri=f"sqlite:///{tmp_path / 'mlflow.db'}"
    )
    client.create_registered_model("german_credit")
    for _ in range(2):
        client.create_model_version("german_credit", source=str(tmp_path / "artefact"))
    return MlflowVersionStore(client)


def _description(store: MlflowVersionStore, version: int) -> str:
    return store.client.get_model_version("german_credit", str(version)).description


def test_each_governed_change_rewrites_the_version_s_description(store):
    store.set_tags(
        "german_credit",
        1,
        {
            "status": "validated",
            "developed_by": "priya",
            "validated_by": "marco",
            "validation_outcome": "findings open",
            "open_findings_high": "1",
        },
    )
    text = _description(store, 1)
    assert text.startswith("**german_credit v1: validated**")
    assert "developed by priya · validated by marco (findings open)" in text
    assert "open findings: 1 high, 0 medium, 0 low" in text and "workbench audit verify" in text
    store.set_tags(
        "german_credit",
        1,
        {
            "status": "approved",
            "approved_by": "helen",
            "approval_date": "2026-11-30T09:00:00",
            "approval_conditions": "monthly fairness monitoring",
            "approval_override": "plan R-17",
        },
    )
    text = _description(store, 1)
    assert "approved by helen on 2026-11-30" in text and "conditions: monthly fairness monitoring" in text
    assert "approved by override: plan R-17" in text
    # the alias shows on the holder, and leaves the former holder's description when it moves
    store.set_alias("german_credit", "champion", 1)
    assert _description(store, 1).startswith("**german_credit v1: approved** (@champion)")
    store.set_tags("german_credit", 2, {"status": "approved"})
    store.set_alias("german_credit", "champion", 2)
    assert "@champion" not in _description(store, 1) and "(@champion)" in _description(store, 2)
    store.remove_alias("german_credit", "champion")
    assert "@champion" not in _description(store, 2)
