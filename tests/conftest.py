from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GERMAN_SPEC = ROOT / "notebooks" / "params" / "german_credit.yaml"


@pytest.fixture(scope="session")
def german_spec_dict() -> dict:
    return yaml.safe_load(GERMAN_SPEC.read_text())


@pytest.fixture
def spec_dict(german_spec_dict) -> dict:
    """A fresh, mutable copy of the shipped German credit spec."""
    return copy.deepcopy(german_spec_dict)


@pytest.fixture(scope="session")
def german_spec():
    from workbench.spec import load_spec

    return load_spec(GERMAN_SPEC)


@pytest.fixture(scope="session")
def german_data(german_spec):
    from workbench.data import load_model_data

    return load_model_data(german_spec)


def write_german_csv(path: Path) -> Path:
    """The decoded German data as a CSV, as a bank's own extract would arrive."""
    from workbench.datasets import load_german_credit

    load_german_credit().to_csv(path, index=False)
    return path


def csv_spec(spec: dict, csv_path: Path) -> dict:
    """The German spec pointed at a CSV file instead of the shipped data set."""
    spec = copy.deepcopy(spec)
    spec["name"] = "german_credit_csv"
    spec["dataset"] = {"path": str(csv_path)}
    return spec


@pytest.fixture(scope="session")
def german_training(german_data, german_spec):
    from workbench.training import train

    return train(german_data, german_spec)


@pytest.fixture(scope="session")
def german_context(german_training, german_data, german_spec):
    """A validation context on the trained German model, without a registry (fast unit tests)."""
    from workbench.validation import ValidationContext

    return ValidationContext(
        spec=german_spec,
        model=german_training.model,
        data=german_data,
        split=german_training.split,
        name="german_credit",
        version=1,
        tags={"model_family": german_training.chosen},
    )


@pytest.fixture(scope="session")
def german_validation(german_context):
    from workbench.validation import run_validation

    return run_validation(german_context)
