"""Data sets shipped with the package, by name, each with its loader and the file that identifies it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from workbench.datasets._aml_transfers import (
    AML_CALIBRATION,
    AmlData,
    account_period_labels,
    aml_calibration_table,
    synthetic_aml_data,
    synthetic_aml_transfers,
)
from workbench.datasets._caravan import CaravanUnavailable, caravan_path, load_caravan
from workbench.datasets._card_transactions import CALIBRATION, SOURCES, calibration_table, synthetic_card_transactions
from workbench.datasets._german_credit import german_credit_path, load_german_credit
from workbench.datasets._synthetic import synthetic_german_credit

#: name -> (path of the identifying source file, loader returning the decoded frame)
SHIPPED: dict[str, tuple[Callable[[], Path], Callable[[], pd.DataFrame]]] = {
    "german_credit": (german_credit_path, load_german_credit),
    "caravan": (caravan_path, load_caravan),
}

#: generated data sets by name: each draws rows deterministically from a count and a seed
GENERATED: dict[str, Callable[..., pd.DataFrame]] = {"card_transactions": synthetic_card_transactions}

__all__ = [
    "CALIBRATION",
    "CaravanUnavailable",
    "GENERATED",
    "SHIPPED",
    "SOURCES",
    "calibration_table",
    "caravan_path",
    "german_credit_path",
    "load_caravan",
    "load_german_credit",
    "synthetic_card_transactions",
    "synthetic_german_credit",
]

# the AML kind's building blocks
__all__ += [
    "AML_CALIBRATION",
    "AmlData",
    "account_period_labels",
    "aml_calibration_table",
    "synthetic_aml_data",
    "synthetic_aml_transfers",
]
