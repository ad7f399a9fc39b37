"""The shipped data, its decoding, the data checks and the split, on real and deliberately broken data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.data import DataValidationError, ModelData, add_protected_bands, make_split, validate_data
from workbench.datasets import german_credit_path, load_german_credit
from workbench.provenance import file_sha256

GERMAN_SHA256 = "b21f3d81db8071257d5ff1deaeba1fd4303b62712e6fcc9715c7a86202cb5871"


def test_shipped_file_is_the_original():
    assert file_sha256(german_credit_path()) == GERMAN_SHA256
    assert (german_credit_path().parent / "ATTRIBUTION.md").read_text().count("CC BY 4.0") >= 1


def test_decoding_matches_the_codebook_facts():
    frame = load_german_credit()
    assert frame.shape == (1000, 22)
    assert frame["credit_risk"].value_counts().to_dict() == {"good": 700, "bad": 300}
    assert frame["sex"].value_counts().to_dict() == {"male": 690, "female": 310}
    good = frame["credit_risk"].eq("good").groupby(frame["sex"]).mean()
    assert round(good["female"], 3) == 0.648 and round(good["male"], 3) == 0.723
    assert frame.loc[0, "checking_status"] == "... < 0 DM"
    assert set(frame["telephone"]) == {"yes", "no"}


def test_age_band_lower_edge_inclusive(german_spec, german_data):
    frame = german_data.frame
    assert (frame["age_group"] == "<25").sum() == 149
    assert set(frame.loc[frame["age"] == 25, "age_group"]) == {">=25"}
    good = frame["credit_risk"].eq("good").groupby(frame["age_group"]).mean()
    assert round(good["<25"], 3) == 0.591


def _data(frame: pd.DataFrame) -> ModelData:
    return ModelData(frame=frame, sha256="0" * 64, source="test.csv", path=german_credit_path())


def test_real_data_passes_without_blocking(german_spec, german_data):
    result = validate_data(german_data, german_spec)
    assert result.blocking_failures == []
    result.raise_for_blocking()
    assert result.check("class_balance").message.startswith("adverse rate 30.0%")
    groups = result.check("target_by_group").table
    female = groups[(groups["column"] == "sex") & (groups["group"] == "female")].iloc[0]
    assert female["count"] == 310
    assert round(female["favourable_ratio_to_reference"], 3) == 0.897


def test_numeric_stored_as_text_blocks_with_the_column_named(german_spec, german_data):
    frame = german_data.frame.copy()
    frame["credit_amount"] = frame["credit_amount"].astype(str)
    frame.loc[3, "credit_amount"] = "12,000"
    result = validate_data(_data(frame), german_spec)
    assert [c.id for c in result.blocking_failures] == ["schema"]
    assert "'credit_amount' holds non-numeric values ('12,000' in 1 row(s))" in result.check("schema").message
    with pytest.raises(DataValidationError, match="credit_amount"):
        result.raise_for_blocking()


def test_missing_values_warn_then_block(german_spec, german_data):
    frame = german_data.frame.copy()
    frame.loc[:9, "savings"] = np.nan
    check = validate_data(_data(frame), german_spec).check("missing_values")
    assert check.outcome == "warn" and "savings 1.0%" in check.message
    frame.loc[:299, "savings"] = np.nan
    check = validate_data(_data(frame), german_spec).check("missing_values")
    assert check.outcome == "fail" and "'savings' is 30.0% missing" in check.message
    frame = german_data.frame.copy()
    frame.loc[5, "credit_risk"] = np.nan
    check = validate_data(_data(frame), german_spec).check("missing_values")
    assert check.outcome == "fail" and "missing in 1 row(s)" in check.message


def test_duplicates_are_counted(german_spec, german_data):
    frame = pd.concat([german_data.frame, german_data.frame.iloc[:7]], ignore_index=True)
    check = validate_data(_data(frame), german_spec).check("duplicates")
    assert check.outcome == "warn" and check.message.startswith("7 row(s)")


def test_many_categories_warn(german_spec, german_data):
    frame = german_data.frame.copy()
    frame["purpose"] = [f"purpose {i % 40}" for i in range(len(frame))]
    check = validate_data(_data(frame), german_spec).check("cardinality")
    assert check.outcome == "warn" and "'purpose' has 40 levels" in check.message


def test_too_few_adverse_outcomes_block(german_spec, german_data):
    frame = german_data.frame.copy()
    bad = frame.index[frame["credit_risk"] == "bad"]
    frame.loc[bad[40:], "credit_risk"] = "good"
    check = validate_data(_data(frame), german_spec).check("class_balance")
    assert check.outcome == "fail" and "only 40 rows" in check.message


def test_infinite_values_block(german_spec, german_data):
    frame = german_data.frame.copy()
    frame["credit_amount"] = frame["credit_amount"].astype(float)
    frame.loc[0, "credit_amount"] = np.inf
    check = validate_data(_data(frame), german_spec).check("ranges")
    assert check.outcome == "fail" and "credit_amount" in check.message


def test_random_split_is_deterministic_and_stratified(german_spec, german_data):
    first = make_split(german_data.frame, german_spec)
    again = make_split(german_data.frame, german_spec)
    assert first.sha256 == again.sha256
    assert len(first.validation) == 300 and len(first.development) == 700
    assert not set(first.validation) & set(first.development)
    y = german_data.frame["credit_risk"].eq("bad").to_numpy()
    assert y[first.validation].mean() == pytest.approx(0.3, abs=0.005)
    other = german_spec.model_copy(update={"split": german_spec.split.model_copy(update={"seed": 1})})
    assert make_split(german_data.frame, other).sha256 != first.sha256


def test_out_of_time_split(spec_dict, german_data):
    from workbench.spec import parse_spec

    spec_dict["split"] = {"method": "out_of_time", "date_column": "applied", "validation_start": "2024-07-01"}
    spec = parse_spec(spec_dict)
    frame = german_data.frame.assign(applied=pd.date_range("2023-01-01", periods=1000, freq="D").astype(str))
    split = make_split(frame, spec)
    assert split.validation.min() == (pd.Timestamp("2024-07-01") - pd.Timestamp("2023-01-01")).days
    assert len(split.development) + len(split.validation) == 1000


def test_band_ignores_unparseable_source(german_spec):
    frame = pd.DataFrame({"age": [24, 25, "n/a"]})
    banded = add_protected_bands(frame, german_spec)
    assert banded["age_group"].tolist()[:2] == ["<25", ">=25"]
    assert pd.isna(banded["age_group"].iloc[2])
