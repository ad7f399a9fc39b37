"""Canonical text of a label (a target value or a protected group), whatever type the column has.

A CSV read by pandas types a column of 0/1 with a gap as float (``1.0``), the same column without a gap as
int (``1``), and a spec's YAML may say ``0``, ``"0"`` or ``0.0``. They name the same group, so labels are
compared in one canonical form: integral numbers without a decimal part (``1.0`` and ``"1.0"`` -> ``"1"``),
other numbers as Python prints them, text stripped, booleans as ``True`` / ``False``. Missing values have no
label (``None``); as a group they are shown as :data:`MISSING_GROUP`.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

#: The group label of rows whose protected attribute is missing (never "nan").
MISSING_GROUP = "(missing)"

_INTEGRAL_TEXT = re.compile(r"^[+-]?\d+\.0*$")


def label_key(value: Any) -> str | None:
    """The canonical text of one label; ``None`` for a missing value."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip()
    if _INTEGRAL_TEXT.match(text):
        return str(int(float(text)))
    return text


def label_keys(values: pd.Series) -> pd.Series:
    """Canonical labels of a column (object dtype; missing values stay missing)."""
    distinct = {v: label_key(v) for v in pd.unique(values.dropna())}
    return values.map(distinct).astype(object).where(values.notna(), None)


def group_labels(values: pd.Series) -> pd.Series:
    """Protected-group labels of a column: canonical labels, missing values as :data:`MISSING_GROUP`."""
    return label_keys(values).fillna(MISSING_GROUP).astype(str)
