"""Model-risk policy constants that several parts share (documents, inventory, monitoring)."""

from __future__ import annotations

from workbench.policy._frameworks import (
    DEFAULT_FRAMEWORKS,
    DOCUMENT_SECTIONS,
    Framework,
    framework_names,
    load_framework,
)

#: Months between full re-validations, by risk tier (1 = highest risk).
REVALIDATION_MONTHS: dict[int, int] = {1: 12, 2: 24, 3: 36}

#: How often production monitoring runs, by risk tier.
MONITORING_FREQUENCY: dict[int, str] = {1: "monthly", 2: "quarterly", 3: "semi-annually"}

#: Which validation-test categories each SR 11-7 document section reports.
SECTION_CATEGORIES: dict[str, tuple[str, ...]] = {
    "data": ("data",),
    "methodology": ("soundness", "benchmarking"),
    "performance": ("discrimination", "calibration", "stability", "sensitivity", "overfitting", "segments"),
    "outcomes": ("backtesting", "decision"),
}

#: Finding severities, most severe first (the order documents and reports list them in).
SEVERITY_ORDER: dict[str, int] = {"high": 0, "medium": 1, "low": 2}

__all__ = [
    "DEFAULT_FRAMEWORKS",
    "DOCUMENT_SECTIONS",
    "Framework",
    "MONITORING_FREQUENCY",
    "REVALIDATION_MONTHS",
    "SECTION_CATEGORIES",
    "SEVERITY_ORDER",
    "framework_names",
    "load_framework",
]
