"""The UCI Statlog (German Credit Data), shipped in the package and decoded with its own codebook.

Source: UCI Machine Learning Repository, "Statlog (German Credit Data)", Prof. Dr. Hans Hofmann,
Universitaet Hamburg, 1994, licensed CC BY 4.0 (see ``german_credit/ATTRIBUTION.md``).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pandas as pd

#: Column names in file order, with the codebook key that decodes each coded column.
COLUMNS: list[tuple[str, str | None]] = [
    ("checking_status", "status"),
    ("duration_months", None),
    ("credit_history", "credit_history"),
    ("purpose", "purpose"),
    ("credit_amount", None),
    ("savings", "savings"),
    ("employment_since", "present_employment"),
    ("installment_rate", None),
    ("personal_status_sex", "status_sex"),
    ("other_debtors", "other_debtors"),
    ("residence_since", None),
    ("property", "property"),
    ("age", None),
    ("other_installment_plans", "installment_plans"),
    ("housing", "housing"),
    ("existing_credits", None),
    ("job", "job"),
    ("people_liable", None),
    ("telephone", "telephone"),
    ("foreign_worker", "foreign_worker"),
    ("credit_risk", "credit"),
]


def german_credit_path() -> Path:
    """The original coded file, whose sha256 identifies the data."""
    return Path(str(resources.files("workbench.datasets") / "german_credit" / "german.data"))


def _codebook() -> dict[str, dict[str, object]]:
    text = (resources.files("workbench.datasets") / "german_credit" / "values_maps.json").read_text("utf-8")
    return json.loads(text)


def _readable(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return " ".join(str(value).split())


def decode_german_credit(raw: pd.DataFrame) -> pd.DataFrame:
    """Decode the coded columns into readable categories and derive ``sex`` from the original codes.

    Sex is only recoverable from ``personal_status_sex`` (A92, A95 female; A91, A93, A94 male), so it is
    decoded from the original code, never from a relabelled copy.
    """
    codebook = _codebook()
    frame = raw.copy()
    for column, key in COLUMNS:
        if key is None:
            frame[column] = frame[column].astype("int64")
            continue
        mapping = {str(code): _readable(text) for code, text in codebook[key].items()}
        codes = frame[column].astype(str)
        unknown = sorted(set(codes) - set(mapping))
        if unknown:
            raise ValueError(f"{column}: codes {unknown} are not in the codebook")
        frame[column] = codes.map(mapping)
    sex_codes = raw["personal_status_sex"].astype(str)
    frame["sex"] = sex_codes.map({"A91": "male", "A93": "male", "A94": "male", "A92": "female", "A95": "female"})
    return frame


def load_german_credit(path: Path | None = None) -> pd.DataFrame:
    """The 1,000 applications as a decoded frame; ``credit_risk`` is 'good' or 'bad'."""
    raw = pd.read_csv(path or german_credit_path(), sep=" ", header=None, names=[c for c, _ in COLUMNS], dtype=str)
    return decode_german_credit(raw)
