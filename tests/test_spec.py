"""Spec validation: every bad-spec case fails before any work, naming the key and the problem."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from workbench.spec import SpecError, check_spec_against_data, load_spec, parse_spec, spec_sha256


def problems_of(spec: dict) -> dict[str, str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec, "test.yaml")
    return dict(caught.value.problems)


def test_shipped_spec_is_valid(german_spec):
    assert german_spec.name == "german_credit"
    assert german_spec.target.adverse_value == "bad"
    assert {a.name for a in german_spec.protected_attributes} == {"sex", "age_group"}


def test_unknown_key_top_level_and_nested(spec_dict):
    spec_dict["trheshold"] = {}
    spec_dict["split"]["sed"] = 3
    problems = problems_of(spec_dict)
    assert problems["trheshold"] == "unknown key"
    assert problems["split.sed"] == "unknown key"


def test_missing_target(spec_dict):
    del spec_dict["target"]
    assert problems_of(spec_dict) == {"target": "required key is missing"}


def test_missing_target_column(spec_dict):
    del spec_dict["target"]["column"]
    assert problems_of(spec_dict) == {"target.column": "required key is missing"}


@pytest.mark.parametrize("feature", ["age", "personal_status_sex", "sex", "age_group"])
def test_protected_attribute_as_feature(spec_dict, feature):
    spec_dict["features"]["numeric" if feature == "age" else "categorical"].append(feature)
    problems = problems_of(spec_dict)
    ((key, message),) = problems.items()
    assert key.startswith("features.")
    assert f"'{feature}' carries protected attribute" in message
    assert "never model inputs" in message


def test_unknown_model_family(spec_dict):
    spec_dict["candidates"][1]["family"] = "xgboost_magic"
    problems = problems_of(spec_dict)
    assert "unknown model family 'xgboost_magic'" in problems["candidates[1].family"]
    assert "scorecard_logit" in problems["candidates[1].family"]


@pytest.mark.parametrize(
    ("section", "key", "value", "location"),
    [
        ("thresholds", "min_auc", 1.5, "thresholds.min_auc"),
        ("thresholds", "disparate_impact_floor", 0.0, "thresholds.disparate_impact_floor"),
        ("thresholds", "max_missing_rate", -0.1, "thresholds.max_missing_rate"),
        ("decision", "cutoff", 1.0, "decision.cutoff"),
        ("split", "validation_fraction", 0.0, "split.validation_fraction"),
    ],
)
def test_thresholds_out_of_range(spec_dict, section, key, value, location):
    spec_dict[section][key] = value
    problems = problems_of(spec_dict)
    assert location in problems
    assert "greater than" in problems[location] or "less than" in problems[location]


def test_psi_bands_must_be_ordered(spec_dict):
    spec_dict["thresholds"]["psi_warn"] = 0.3
    assert problems_of(spec_dict) == {"thresholds": "psi_warn must be below max_psi"}


def test_every_problem_is_reported_at_once(spec_dict):
    spec_dict["risk_tier"] = 7
    spec_dict["name"] = "Bad Name"
    problems = problems_of(spec_dict)
    assert {"risk_tier", "name"} <= set(problems)


def test_dataset_needs_exactly_one_source(spec_dict):
    spec_dict["dataset"] = {"name": "german_credit", "path": "x.csv"}
    assert "exactly one of" in problems_of(spec_dict)["dataset"]


def test_adverse_action_text_for_unknown_feature(spec_dict):
    spec_dict["decision"]["adverse_action_texts"]["income"] = "Income too low"
    assert problems_of(spec_dict) == {"decision.adverse_action_texts.income": "'income' is not a feature"}


def test_error_message_lists_keys(spec_dict):
    spec_dict["candidates"] = []
    with pytest.raises(SpecError) as caught:
        parse_spec(spec_dict, "my_spec.yaml")
    text = str(caught.value)
    assert text.startswith("spec my_spec.yaml is invalid:")
    assert "candidates:" in text


def test_feature_not_in_data_suggests_the_close_name(german_spec, german_data):
    spec = german_spec.model_copy(
        update={"features": german_spec.features.model_copy(update={"numeric": ["duration_months", "credit_amout"]})}
    )
    with pytest.raises(SpecError) as caught:
        check_spec_against_data(spec, german_data.frame, "data/loans.csv")
    assert dict(caught.value.problems)["features.numeric[1]"] == (
        "'credit_amout' is not a column of data/loans.csv (did you mean 'credit_amount'?)"
    )


def test_a_target_value_in_neither_list_is_named(spec_dict, german_data):
    frame = german_data.frame.assign(credit_risk=["good", "bad", "unknown", "good"] * 250)
    spec_dict["target"]["favourable_value"] = "good"
    with pytest.raises(SpecError) as caught:
        check_spec_against_data(parse_spec(spec_dict), frame, "loans.csv")
    message = dict(caught.value.problems)["target.favourable_value"]
    assert "'unknown'" in message and "neither adverse_value nor favourable_value" in message


def test_a_multi_valued_target_maps_by_lists(spec_dict, german_data):
    """Several adverse values, everything else favourable; 1, "1" and 1.0 name one label."""
    from workbench.data import adverse_target

    frame = german_data.frame.assign(credit_risk=["Fully Paid", "Charged Off", "Late (31-120 days)", "Current"] * 250)
    spec_dict["target"]["adverse_value"] = ["Charged Off", "Late (31-120 days)"]
    spec = parse_spec(spec_dict)
    check_spec_against_data(spec, frame, "loans.csv")
    assert adverse_target(frame, spec).tolist()[:4] == [0.0, 1.0, 1.0, 0.0]
    spec_dict["target"]["favourable_value"] = ["Fully Paid"]
    with pytest.raises(SpecError, match="'Current'"):
        check_spec_against_data(parse_spec(spec_dict), frame, "loans.csv")
    numeric = german_data.frame.assign(credit_risk=[0.0, 1.0, None, 1.0] * 250)
    spec_dict["target"] = {"column": "credit_risk", "adverse_value": 1}
    spec = parse_spec(spec_dict)
    check_spec_against_data(spec, numeric, "loans.csv")
    assert (
        adverse_target(numeric, spec).tolist()[:4][:2] == [0.0, 1.0]
        and adverse_target(numeric, spec).isna().sum() == 250
    )


@pytest.mark.parametrize("reference", [0, "0", 0.0, "0.0"])
def test_a_protected_reference_names_its_group_whatever_the_column_type(spec_dict, german_data, reference):
    """An integer-coded group column with gaps reads as float; 0, "0", 0.0 and "0.0" still name group 0."""
    from workbench.spec import group_labels

    codes = [0.0, 1.0, None, 0.0] * 250
    frame = german_data.frame.assign(afam=codes)
    spec_dict["protected_attributes"] = [{"name": "afam", "reference": reference}]
    spec = parse_spec(spec_dict)
    check_spec_against_data(spec, frame, "loans.csv")
    assert sorted(set(group_labels(frame["afam"]))) == ["(missing)", "0", "1"]
    spec_dict["protected_attributes"] = [{"name": "afam", "reference": 2}]
    with pytest.raises(SpecError) as caught:
        check_spec_against_data(parse_spec(spec_dict), frame, "loans.csv")
    assert "(groups: '(missing)', '0', '1')" in dict(caught.value.problems)["protected_attributes[0].reference"]


def test_adverse_value_not_in_target(spec_dict, german_data):
    spec_dict["target"]["adverse_value"] = "default"
    spec = parse_spec(spec_dict)
    with pytest.raises(SpecError) as caught:
        check_spec_against_data(spec, german_data.frame, "german")
    assert "'default' is not a value of 'credit_risk'" in dict(caught.value.problems)["target.adverse_value"]


def test_protected_reference_group_must_exist(spec_dict, german_data):
    spec_dict["protected_attributes"][0]["reference"] = "men"
    with pytest.raises(SpecError) as caught:
        check_spec_against_data(parse_spec(spec_dict), german_data.frame, "german")
    assert "'men' is not a group of 'sex'" in dict(caught.value.problems)["protected_attributes[0].reference"]


def test_bad_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(bad)
    with pytest.raises(SpecError, match="no such spec file"):
        load_spec(tmp_path / "missing.yaml")
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(SpecError, match="YAML mapping"):
        load_spec(listy)


def test_spec_hash_ignores_formatting_but_not_content(tmp_path, spec_dict):
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text(yaml.safe_dump(spec_dict, sort_keys=True))
    b.write_text("# a comment\n" + yaml.safe_dump(spec_dict, sort_keys=False))
    assert spec_sha256(load_spec(a)) == spec_sha256(load_spec(b))
    spec_dict["decision"]["cutoff"] = 0.4
    b.write_text(yaml.safe_dump(spec_dict))
    assert spec_sha256(load_spec(a)) != spec_sha256(load_spec(b))


def test_out_of_time_split_needs_its_date(spec_dict):
    spec_dict["split"] = {"method": "out_of_time"}
    assert "needs 'date_column'" in problems_of(spec_dict)["split"]


def test_new_csv_is_onboarded_by_a_spec_only(tmp_path):
    """A different data set, different column names, nothing but a spec."""
    frame = pd.DataFrame(
        {
            "income": [float(i % 50) for i in range(400)],
            "region": ["north", "south", "east", "west"] * 100,
            "gender": ["f", "m"] * 200,
            "defaulted": ["yes" if i % 5 == 0 else "no" for i in range(400)],
        }
    )
    path = tmp_path / "loans.csv"
    frame.to_csv(path, index=False)
    spec = parse_spec(
        {
            "name": "loans",
            "title": "t",
            "purpose": "p",
            "intended_use": "u",
            "owner": "o",
            "risk_tier": 2,
            "dataset": {"path": str(path)},
            "target": {"column": "defaulted", "adverse_value": "yes"},
            "features": {"numeric": ["income"], "categorical": ["region"]},
            "protected_attributes": [{"name": "gender", "reference": "m"}],
            "candidates": [{"family": "scorecard_logit"}],
            "decision": {"cutoff": 0.3},
        }
    )
    from workbench.data import load_model_data

    data = load_model_data(spec)
    assert len(data.frame) == 400


def test_a_misspelt_feature_is_named_before_its_orphaned_text(spec_dict):
    """With a text for every feature, a typo in the feature list is reported at the feature first."""
    spec_dict["features"]["numeric"][0] = "duration_montsh"
    with pytest.raises(SpecError) as caught:
        parse_spec(spec_dict)
    (first_key, first), (second_key, second) = caught.value.problems[:2]
    assert first_key == "features.numeric[0]" and "misspelling of 'duration_months'" in first
    assert second_key == "decision.adverse_action_texts.duration_months"
    assert "(did you mean 'duration_montsh'?)" in second


def test_a_misspelt_feature_is_reported_as_not_a_column_of_the_data(spec_dict, tmp_path):
    """Read for a run, the spec's typo is named as what it is: a name that is not a column of the data."""
    import yaml

    from workbench.data import read_spec

    spec_dict["features"]["numeric"][0] = "duration_montsh"
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(spec_dict))
    with pytest.raises(SpecError) as caught:
        read_spec(path)
    first_key, first = caught.value.problems[0]
    assert first_key == "features.numeric[0]"
    assert first.startswith("'duration_montsh' is not a column of ") and "(did you mean 'duration_months'?)" in first
    assert caught.value.problems[1][0] == "decision.adverse_action_texts.duration_months"
    # the data cannot be read: the schema's own wording stays
    spec_dict["dataset"] = {"path": str(tmp_path / "absent.csv")}
    path.write_text(yaml.safe_dump(spec_dict))
    with pytest.raises(SpecError) as caught:
        read_spec(path)
    assert "misspelling of 'duration_months'" in caught.value.problems[0][1]
