"""The AML kind's data and features: the synthetic transfers with their typologies and labels (deterministic,
calibrated), and the account-level window features, point in time, checked on a hand-worked example (an event
exactly at the as-of time included) and against a plain pandas recount on generated data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.datasets import (
    AmlData,
    account_period_labels,
    aml_calibration_table,
    synthetic_aml_data,
    synthetic_aml_transfers,
)
from workbench.features import account_features, aml_feature_names


@pytest.fixture(scope="module")
def world() -> AmlData:
    return synthetic_aml_data(200_000, seed=3)


# --- generator -------------------------------------------------------------------------------------------------


def test_same_seed_same_data_other_seed_other_data():
    a, b = synthetic_aml_data(20_000, seed=1), synthetic_aml_data(20_000, seed=1)
    pd.testing.assert_frame_equal(a.transfers, b.transfers)
    pd.testing.assert_frame_equal(a.accounts, b.accounts)
    c = synthetic_aml_transfers(20_000, seed=2)
    assert not c["amount"].equals(a.transfers["amount"])


def test_every_typology_appears_with_consistent_labels(world):
    t, accounts = world.transfers, world.accounts
    kinds = set(t.loc[t["is_laundering"] == 1, "typology"].astype(str))
    assert kinds == {"fan_out", "fan_in", "cycle", "scatter_gather", "gather_scatter", "bipartite",
                     "stacked_bipartite", "structuring", "rapid_movement"}  # fmt: skip
    # a transfer is laundering exactly when it has a typology and an instance
    assert ((t["is_laundering"] == 1) == (t["typology"] != "none")).all()
    assert ((t["is_laundering"] == 1) == (t["pattern_id"] >= 0)).all()
    # illicit ratio as AMLworld HI-Small (1 in 981), within one instance
    assert abs(t["is_laundering"].sum() - len(t) * 5_177 / 5_078_345) <= 30
    # an account is laundering exactly when it sent or received a laundering transfer
    bad = t[t["is_laundering"] == 1]
    parties = set(bad["from_account"]) | set(bad["to_account"])
    assert set(accounts.loc[accounts["is_laundering"] == 1, "account_id"]) == parties
    assert (accounts.loc[accounts["is_laundering"] == 0, "typology"] == "none").all()
    # sorted by time, nobody pays before the account exists, Reinvestment pays the same account
    assert t["timestamp"].is_monotonic_increasing
    opened = accounts.set_index("account_id")["opened"]
    assert (t["timestamp"].to_numpy() >= opened.loc[t["from_account"]].to_numpy()).all()
    assert (t["timestamp"].to_numpy() >= opened.loc[t["to_account"]].to_numpy()).all()
    reinvest = t["payment_format"] == "Reinvestment"
    assert (t.loc[reinvest, "from_account"] == t.loc[reinvest, "to_account"]).all()
    assert set(t["payment_format"].astype(str)) == {"ACH", "Bitcoin", "Cash", "Cheque", "Credit Card",
                                                     "Reinvestment", "Wire"}  # fmt: skip
    # customer attributes for fairness
    assert set(accounts["business_type"].astype(str)) == {"individual", "small_business", "corporate"}
    assert (accounts.loc[accounts["business_type"] != "individual", "age_band"] == "business").all()


def test_structuring_stays_under_the_threshold_and_rapid_movement_uses_new_accounts(world):
    t, accounts = world.transfers, world.accounts
    deposits = t[(t["typology"] == "structuring") & (t["payment_format"] == "Cash")]
    assert len(deposits) and deposits["amount"].between(0.85 * world.threshold, world.threshold).all()
    assert (deposits["amount"] < world.threshold).all()
    rapid = t[t["typology"] == "rapid_movement"]
    opened = accounts.set_index("account_id")["opened"]
    # each instance has an account opened during the data's span that received and paid on within hours
    for _, instance in rapid.groupby("pattern_id"):
        hub = set(instance["from_account"]) & set(instance["to_account"])
        assert len(hub) == 1
        assert opened.loc[hub.pop()] >= world.start


def test_bad_arguments_name_the_field():
    with pytest.raises(ValueError, match="n_transfers"):
        synthetic_aml_data(10)
    with pytest.raises(ValueError, match="illicit_ratio"):
        synthetic_aml_data(5_000, illicit_ratio=0.5)
    with pytest.raises(ValueError, match="days"):
        synthetic_aml_data(5_000, days=3)
    with pytest.raises(ValueError, match="period_days"):
        account_period_labels(synthetic_aml_data(5_000), period_days=0)


def test_sar_label_per_account_period_follows_the_laundering_transfers(world):
    labels = account_period_labels(world, period_days=7)
    assert list(labels.columns) == ["account_id", "period", "as_of", "typology", "is_laundering", "sar"]
    assert not labels.duplicated(["account_id", "period"]).any()
    # recount: the accounts that touched a laundering transfer in each week
    t = world.transfers
    bad = t[t["is_laundering"] == 1]
    week = ((bad["timestamp"] - world.start) // pd.Timedelta(days=7)).to_numpy()
    expected = set(zip(bad["from_account"], week, strict=True)) | set(zip(bad["to_account"], week, strict=True))
    got = set(labels.loc[labels["sar"] == 1, ["account_id", "period"]].itertuples(index=False, name=None))
    assert got == {(int(a), int(w)) for a, w in expected}
    assert (labels["as_of"] == world.start + pd.Timedelta(days=7) * (labels["period"] + 1)).all()


def test_calibration_table_states_sources_and_the_measured_generator():
    table = aml_calibration_table()
    assert list(table.columns) == ["statistic", "published", "source", "generator"]
    illicit = table.set_index("statistic").loc["laundering transfers (illicit ratio)"]
    assert "5,177 of 5,078,345" in illicit["published"] and "terencekaplan" in illicit["source"]
    # the stored generator column is what a fresh draw of 1,000,000 transfers measures
    measured = aml_calibration_table(measure_on=synthetic_aml_data(1_000_000, seed=0))
    pd.testing.assert_frame_equal(table, measured)


# --- features --------------------------------------------------------------------------------------------------

T = pd.Timestamp


def _hand_transfers() -> pd.DataFrame:
    rows = [  # (time, from, to, amount, format)
        ("2025-12-20 10:00", 5, 1, 500.0, "ACH"),  # 1: before the 7-day window, inside the 30-day one
        ("2026-01-04 09:00", 2, 1, 9_500.0, "Cash"),  # 2: just under the threshold, new sender 2
        ("2026-01-05 09:00", 3, 1, 9_800.0, "Cash"),  # 3: just under, new sender 3
        ("2026-01-05 12:00", 1, 4, 9_700.0, "Wire"),  # 4: forwards #3 after 3 hours (9,700 / 9,800 = 0.99)
        ("2026-01-06 08:00", 5, 1, 1_000.0, "ACH"),  # 5: sender 5 is not new (#1)
        ("2026-01-07 08:00", 1, 1, 2_000.0, "Reinvestment"),  # 6: to itself: a transfer, not a counterparty
        ("2026-01-08 10:00", 1, 2, 100.0, "Cheque"),  # 7: 100 / 1,000 of the latest inflow: no pass-through
        ("2026-01-10 00:00", 6, 1, 50_000.0, "Wire"),  # 8: exactly at the as-of time: not counted
        ("2026-01-09 23:00", 7, 8, 3_000.0, "ACH"),  # 9: other accounts
    ]
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime([r[0] for r in rows], utc=True),
            "from_account": [r[1] for r in rows],
            "to_account": [r[2] for r in rows],
            "amount": [r[3] for r in rows],
            "payment_format": [r[4] for r in rows],
        }
    )


def test_hand_worked_features_exclude_the_event_at_the_as_of_time():
    as_of = pd.DataFrame(
        {
            "account_id": [1, 1, 9],
            "as_of": pd.to_datetime(
                ["2026-01-10 00:00:00", "2026-01-10 00:00:00.000001", "2026-01-10 00:00:00"], utc=True, format="ISO8601"
            ),
        }
    )
    f = account_features(_hand_transfers(), as_of, windows=(7, 30), threshold=10_000.0, near=0.9)
    first = f.iloc[0]
    # 7 days [01-03, 01-10): transfers 2, 3, 4, 5, 6, 7
    assert first["inflow_7d"] == 9_500 + 9_800 + 1_000 + 2_000  # 22,300
    assert first["outflow_7d"] == 9_700 + 2_000 + 100  # 11,800
    assert first["transfers_7d"] == 6  # the self-transfer once
    assert first["inflow_outflow_ratio_7d"] == pytest.approx(22_300 / 11_800)
    assert first["counterparties_7d"] == 4  # 2, 3, 4, 5 (not itself)
    assert first["fan_in_7d"] == 3  # 2, 3, 5
    assert first["fan_out_7d"] == 2  # 4, 2
    assert first["new_counterparties_7d"] == 3  # 2, 3, 4; 5 was first seen on 12-20
    assert first["new_senders_7d"] == 2  # 2, 3
    assert first["cash_share_7d"] == pytest.approx((9_500 + 9_800) / (22_300 + 11_800))
    assert first["under_threshold_count_7d"] == 3  # 9,500, 9,800 in; 9,700 out
    assert first["under_threshold_share_7d"] == pytest.approx(3 / 6)
    assert first["pass_through_hours_7d"] == pytest.approx(3.0)
    # 30 days [12-11, 01-10): transfer 1 too
    assert first["inflow_30d"] == 22_800
    assert first["transfers_30d"] == 7
    assert first["counterparties_30d"] == 4
    assert first["new_counterparties_30d"] == 4
    assert first["new_senders_30d"] == 3
    assert first["cash_share_30d"] == pytest.approx(19_300 / 34_600)
    assert first["under_threshold_share_30d"] == pytest.approx(3 / 7)
    # one microsecond later the transfer stamped at 01-10 00:00 counts: 50,000 more from a new sender
    later = f.iloc[1]
    assert later["inflow_7d"] == 22_300 + 50_000
    assert later["new_senders_7d"] == 3 and later["fan_in_7d"] == 4
    # an account with no history: zeros, and the window's length for pass-through
    empty = f.iloc[2]
    assert empty["transfers_7d"] == 0 and empty["inflow_outflow_ratio_7d"] == 0
    assert empty["pass_through_hours_7d"] == 7 * 24 and empty["pass_through_hours_30d"] == 30 * 24
    assert list(f.columns[2:]) == aml_feature_names((7, 30))


def _recount(transfers: pd.DataFrame, account: int, as_of: pd.Timestamp, days: int, threshold: float) -> dict:
    """One account's features by plain filtering, the definitions read literally."""
    t = transfers[transfers["timestamp"] < as_of]
    mine = t[(t["from_account"] == account) | (t["to_account"] == account)]
    window = mine[mine["timestamp"] >= as_of - pd.Timedelta(days=days)]
    inn, out = window[window["to_account"] == account], window[window["from_account"] == account]
    others_in = inn.loc[inn["from_account"] != account, "from_account"]
    others_out = out.loc[out["to_account"] != account, "to_account"]
    other = np.where(mine["from_account"] == account, mine["to_account"], mine["from_account"])
    first_seen = mine.assign(other=other)[other != account].groupby("other")["timestamp"].min()
    senders = mine[(mine["to_account"] == account) & (mine["from_account"] != account)]
    first_in = senders.groupby("from_account")["timestamp"].min()
    start = as_of - pd.Timedelta(days=days)
    cash = (
        inn.loc[inn["payment_format"] == "Cash", "amount"].sum()
        + out.loc[out["payment_format"] == "Cash", "amount"].sum()
    )
    total = inn["amount"].sum() + out["amount"].sum()
    under = window["amount"].between(0.9 * threshold, threshold, inclusive="left")
    hours = []
    inflows = mine[(mine["to_account"] == account) & (mine["from_account"] != account)]
    for row in out[out["to_account"] != account].itertuples():
        before = inflows[inflows["timestamp"] <= row.timestamp]
        if len(before):
            last = before.iloc[-1]
            if 0.8 <= row.amount / last["amount"] <= 1.05:
                hours.append((row.timestamp - last["timestamp"]) / pd.Timedelta(hours=1))
    return {
        "inflow": inn["amount"].sum(),
        "outflow": out["amount"].sum(),
        "transfers": len(window),
        "inflow_outflow_ratio": inn["amount"].sum() / max(out["amount"].sum(), 1.0),
        "counterparties": len(set(others_in) | set(others_out)),
        "fan_in": others_in.nunique(),
        "fan_out": others_out.nunique(),
        "new_counterparties": int((first_seen >= start).sum()),
        "new_senders": int((first_in >= start).sum()),
        "cash_share": cash / total if total else 0.0,
        "under_threshold_count": int(under.sum()),
        "under_threshold_share": under.mean() if len(window) else 0.0,
        "pass_through_hours": float(np.median(hours)) if hours else days * 24.0,
    }


def test_features_equal_a_plain_recount_on_generated_data():
    data = synthetic_aml_data(30_000, seed=5, days=21)
    labels = account_period_labels(data, period_days=7)
    busy = data.transfers["to_account"].value_counts().index[:8].tolist()
    bad = data.transfers.loc[data.transfers["is_laundering"] == 1, "to_account"].unique()[:12].tolist()
    queries = labels[labels["account_id"].isin(busy + bad) & (labels["period"] >= 1)].reset_index(drop=True)
    got = account_features(data.transfers, queries[["account_id", "as_of"]])
    # chunking the distinct counts (here a few events at a time) changes memory, never results
    pd.testing.assert_frame_equal(
        got, account_features(data.transfers, queries[["account_id", "as_of"]], chunk_events=50)
    )
    t = data.transfers
    touching = {a: t[(t["from_account"] == a) | (t["to_account"] == a)] for a in set(queries["account_id"])}
    for row in got.itertuples():
        for days in (7, 30):
            expected = _recount(touching[row.account_id], row.account_id, row.as_of, days, 10_000.0)
            for name, value in expected.items():
                assert getattr(row, f"{name}_{days}d") == pytest.approx(value), (row.account_id, row.as_of, name)


def test_huge_account_ids_take_the_unpacked_path_with_the_same_result():
    transfers = _hand_transfers()
    shifted = transfers.assign(from_account=transfers["from_account"] + 4 * 10**15,
                               to_account=transfers["to_account"] + 4 * 10**15)  # fmt: skip
    as_of = pd.DataFrame({"account_id": [1], "as_of": [T("2026-01-10", tz="UTC")]})
    plain = account_features(transfers, as_of)
    big = account_features(shifted, as_of.assign(account_id=as_of["account_id"] + 4 * 10**15))
    pd.testing.assert_frame_equal(plain.drop(columns="account_id"), big.drop(columns="account_id"))


def test_bad_feature_input_names_the_field():
    as_of = pd.DataFrame({"account_id": [1], "as_of": [T("2026-01-10", tz="UTC")]})
    with pytest.raises(ValueError, match=r"transfers: missing column\(s\) \['payment_format'\]"):
        account_features(_hand_transfers().drop(columns="payment_format"), as_of)
    with pytest.raises(ValueError, match="as_of: missing column 'as_of'"):
        account_features(_hand_transfers(), as_of.rename(columns={"as_of": "when"}))
    broken = _hand_transfers()
    broken.loc[2, "timestamp"] = pd.NaT
    with pytest.raises(ValueError, match="transfers.timestamp: 1 missing time"):
        account_features(broken, as_of)
    negative = _hand_transfers()
    negative.loc[2, "amount"] = -5.0
    with pytest.raises(ValueError, match="transfers.amount"):
        account_features(negative, as_of)
    text_ids = _hand_transfers().astype({"to_account": str})
    with pytest.raises(ValueError, match="transfers.to_account: integer account ids expected"):
        account_features(text_ids, as_of)
    with pytest.raises(ValueError, match="as_of.account_id: 1 missing account id"):
        account_features(_hand_transfers(), as_of.assign(account_id=[None]))
    with pytest.raises(ValueError, match="windows"):
        account_features(_hand_transfers(), as_of, windows=(0,))


def test_window_sums_stay_exact_after_huge_amounts_elsewhere():
    # account 1 moved 10^12 before; account 2's window holds 0.01 + 0.02: a float running total would lose them
    transfers = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2026-01-01 10:00", "2026-01-05 10:00", "2026-01-06 10:00"], utc=True),
            "from_account": [1, 3, 3],
            "to_account": [1, 2, 2],
            "amount": [1e12, 0.01, 0.02],
            "payment_format": ["Wire", "ACH", "ACH"],
        }
    )
    as_of = pd.DataFrame({"account_id": [2], "as_of": [T("2026-01-07", tz="UTC")]})
    f = account_features(transfers, as_of)
    assert f.loc[0, "inflow_7d"] == 0.03 and f.loc[0, "outflow_7d"] == 0.0


def test_feast_serves_the_features_point_in_time(tmp_path):
    """The features through a Feast view: a request at or after an as-of time gets that row, one a microsecond
    before it gets the period before (Feast's point-in-time join on rows stamped at their as-of times)."""
    from workbench.features import aml_store_values, apply_aml_store

    data = synthetic_aml_data(20_000, seed=2, days=21)
    labels = account_period_labels(data, period_days=7)
    features = account_features(data.transfers, labels[["account_id", "as_of"]])
    store = apply_aml_store(tmp_path / "aml_repo", features)
    chosen = labels[labels["period"] == 2].sample(40, random_state=0)
    rows = pd.DataFrame(
        {
            "account_id": np.r_[chosen["account_id"], chosen["account_id"], chosen["account_id"]],
            "as_of": np.r_[
                chosen["as_of"], chosen["as_of"] + pd.Timedelta(hours=1), chosen["as_of"] - pd.Timedelta(1, "us")
            ],
        }
    )
    rows["as_of"] = pd.to_datetime(rows["as_of"], utc=True)
    served = aml_store_values(store, rows)
    by_key = features.set_index(["account_id", "as_of"])[aml_feature_names()]
    week = pd.Timedelta(days=7)
    at = by_key.loc[list(zip(chosen["account_id"], chosen["as_of"], strict=True))].to_numpy()
    before = by_key.reindex(list(zip(chosen["account_id"], chosen["as_of"] - week, strict=True))).to_numpy()
    np.testing.assert_array_equal(served.iloc[:40].to_numpy(), at)
    np.testing.assert_array_equal(served.iloc[40:80].to_numpy(), at)
    np.testing.assert_array_equal(served.iloc[80:].to_numpy(), before)  # the row of the week before (or none)
    with pytest.raises(ValueError, match="features: missing column"):
        apply_aml_store(tmp_path / "other", features.drop(columns="fan_in_7d"))
