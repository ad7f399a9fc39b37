"""Synthetic accounts and transfers with money-laundering typologies, calibrated to IBM's AMLworld.

THE DATA IS SYNTHETIC. No real transaction-monitoring data may be shipped, so the workbench draws it: accounts
with customer attributes (age band, residency group, business type), ordinary transfers in AMLworld's payment
formats with log-normal amounts and daily and weekly rhythms, and laundering in the typologies IBM's AMLSim and
AMLworld (Altman et al., "Realistic Synthetic Financial Transactions for Anti-Money Laundering Models",
NeurIPS 2023 Datasets and Benchmarks, arXiv 2306.16424) describe: fan-out, fan-in, cycle, scatter-gather,
gather-scatter, bipartite and stacked bipartite, plus two a transaction-monitoring team screens for by rule:
structuring (cash just under the reporting threshold) and rapid movement through newly opened accounts.
Every laundering transfer carries its typology and its instance (``pattern_id``); every account its
laundering label and first typology; :func:`account_period_labels` gives the SAR label per account and period.

The generator is hand-written because it is domain logic: the typologies and the calibration are the point of
it. Ordinary transfers are drawn in one vectorised pass; typology instances (about one per ten laundering
transfers) in a loop over instances. Deterministic by seed. Timings for 1,000,000 and 10,000,000
transfers: BENCHMARKS.md, "AML data and account features over 10,000,000 transfers".

Calibration (published figures found with their source; generator figures measured on
``synthetic_aml_transfers(1_000_000, seed=0)``; :func:`aml_calibration_table` returns this table and can
re-measure it):

statistic                     | published (AMLworld HI-Small)             | generator, 1M transfers, seed 0 | source
------------------------------+-------------------------------------------+---------------------------------+-------
laundering transfers          | 5,177 of 5,078,345 = 0.1019%, 1 in 981    | 1,025 of 1,000,000, 1 in 976    | [1][2]
transfers per account         | 5,078,345 / 515,080 = 9.86 in 17.7 days   | 15.62 in 28 days (9.86 in 17.7) | [1]
time span                     | 2022-09-01 00:00 to 2022-09-18 16:18      | ``days`` (default 28)           | [1]
amount: 25th / 50th / 75th    | 184.48 / 1,414.54 / 12,297.84             | 215.85 / 1,654.22 / 13,671.40   | [2]
payment formats               | Reinvestment, Cheque, ACH, Credit Card,   | the same seven; shares assumed: | [3][4]
                              | Wire, Cash, Bitcoin (shares not found)    | Cheque 30%, Credit Card 26%,    |
                              |                                           | ACH 14%, Reinvestment 13%,      |
                              |                                           | Cash 10%, Wire 5%, Bitcoin 2%   |
self-transfers                | Reinvestment rows pay the same account    | 13.0% (the Reinvestment ones)   | [3]
typologies                    | fan-out, fan-in, cycle ("Max 10 hops"),   | the same (cycles of 3-8 hops)   | [5][6]
                              | scatter-gather, gather-scatter, bipartite,| and structuring, rapid movement;|
                              | stack; mix not found                      | mix assumed (``TYPOLOGIES``)    |
LI illicit ratio              | LI-Small: 6,924,049 rows; count not found | ``illicit_ratio`` option        | [3]

[1] github.com/terencekaplan/ma-unisg (HI-Small_Trans.csv: 5,078,345 rows, Is Laundering 5,177, 515,080 distinct
accounts, timestamps 2022-09-01 00:00:00 to 2022-09-18 16:18:00). [2] github.com/euph00/AML-GNN-project
(``describe()`` of HI-Small_Trans.csv: mean Is Laundering 0.001019427; Amount Paid quartiles as shown).
[3] github.com/bjain853/AML-project (sample rows: Reinvestment from an account to itself, Cheque, Credit Card;
HI-Small and LI-Small together 12,002,394 rows, so LI-Small has 6,924,049). [4] github.com/keval3107/
nitilens-ai-compliance-platform, data/datasets/ibm_aml/README.md (Payment Format values). [5] github.com/
giovanni-gg/mbml_project (HI-Small_Patterns.txt blocks such as "CYCLE: Max 10 hops" paid by ACH).
[6] arXiv 2306.16424 (the paper; its abstract at arxiv.org/abs/2306.16424, overviews at
sciencestack.ai/paper/2306.16424 and alphaxiv.org/overview/2306.16424v3). The data set
itself: kaggle.com/datasets/ealtman2019/ibm-transactions-for-anti-money-laundering-aml.

Assumptions (no published figure found): shares of payment formats (``FORMATS``), amount medians per format,
the typology mix (``TYPOLOGIES``), customer attributes and their shares, which customers launderers recruit
(``MULE_WEIGHTS``: young, non-resident and small-business accounts more often, so alert-rate fairness has a
true-rate difference to explain), the reporting threshold (10,000, as the US currency transaction report) and
the SAR rule (an account-period is a SAR when the account took part in a laundering transfer in the period: the
report a complete investigation would file).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

ALTMAN_2023 = (
    "Altman, Blanuša, von Niederhäusern, Egressy, Anghel & Atasu, 'Realistic Synthetic Financial Transactions "
    "for Anti-Money Laundering Models', NeurIPS 2023 Datasets and Benchmarks, arXiv 2306.16424; data "
    "kaggle.com/datasets/ealtman2019/ibm-transactions-for-anti-money-laundering-aml"
)

#: AMLworld HI-Small: 5,177 laundering transfers of 5,078,345 (1 in 981); the default illicit ratio
HI_ILLICIT_RATIO = 5_177 / 5_078_345
#: AMLworld HI-Small: 5,078,345 transfers over 515,080 accounts in 17.7 days
TRANSFERS_PER_ACCOUNT_DAY = (5_078_345 / 515_080) / (17 + 16.3 / 24)
#: the currency-transaction-report threshold structuring stays under
REPORTING_THRESHOLD = 10_000.0

#: payment format -> (share of ordinary transfers, median amount for an individual): assumptions, with the
#: formats of AMLworld's "Payment Format" column. Reinvestment pays the same account (as in AMLworld).
FORMATS: dict[str, tuple[float, float]] = {
    "ACH": (0.14, 1_250.0),
    "Bitcoin": (0.02, 300.0),
    "Cash": (0.10, 225.0),
    "Cheque": (0.30, 700.0),
    "Credit Card": (0.26, 60.0),
    "Reinvestment": (0.13, 1_250.0),
    "Wire": (0.05, 10_000.0),
}
FORMAT_NAMES = tuple(FORMATS)
_SIGMA = 2.1  # log-normal spread of ordinary amounts within a format

#: laundering transfers' formats (an assumption; AMLworld's pattern blocks show ACH often)
LAUNDERING_FORMATS = {"ACH": 0.45, "Bitcoin": 0.08, "Cash": 0.05, "Cheque": 0.12, "Credit Card": 0.05, "Wire": 0.25}

#: typology -> share of laundering instances (an assumption; the names follow AMLworld's pattern blocks)
TYPOLOGIES: dict[str, float] = {
    "fan_out": 0.12,
    "fan_in": 0.15,
    "cycle": 0.14,
    "scatter_gather": 0.09,
    "gather_scatter": 0.08,
    "bipartite": 0.07,
    "stacked_bipartite": 0.05,
    "structuring": 0.12,
    "rapid_movement": 0.18,
}
TYPOLOGY_NAMES = ("none", *TYPOLOGIES)

BUSINESS_TYPES = {"individual": 0.85, "small_business": 0.12, "corporate": 0.03}
#: amounts of a sender scale with its size
BUSINESS_SCALE = {"individual": 1.0, "small_business": 8.0, "corporate": 60.0}
BUSINESS_ACTIVITY = {"individual": 1.0, "small_business": 3.0, "corporate": 12.0}
AGE_BANDS = {"18-24": 0.11, "25-34": 0.20, "35-44": 0.19, "45-54": 0.18, "55-64": 0.16, "65+": 0.16}
#: business accounts have no age; their band reads "business"
AGE_BAND_NAMES = (*AGE_BANDS, "business")
RESIDENCY = {"domestic": 0.82, "foreign_resident": 0.13, "non_resident": 0.05}
#: relative chance an account is recruited into laundering (an assumption, see the module docstring)
MULE_WEIGHTS = {"18-24": 2.0, "non_resident": 2.0, "foreign_resident": 1.3, "small_business": 2.0}
#: share of accounts in the laundering pool, and how active they are in ordinary payments (assumptions)
MULE_POOL_SHARE = 1 / 400
MULE_OWN_ACTIVITY = 0.1
NEW_ACCOUNT_SHARE = 0.04  # accounts opened during the data's span

#: relative activity by hour (business hours) and by weekday, Monday first (assumptions)
HOURLY = np.array([0.3, 0.2, 0.15, 0.15, 0.2, 0.4, 0.8, 1.3, 1.8, 2.0, 2.0, 1.9, 1.8, 1.9, 1.9, 1.8, 1.6, 1.4,
                   1.2, 1.0, 0.8, 0.6, 0.5, 0.4])  # fmt: skip
WEEKLY = np.array([1.1, 1.05, 1.05, 1.05, 1.1, 0.6, 0.45])

_US_HOUR = 3_600_000_000
_US_DAY = 24 * _US_HOUR


@dataclass(frozen=True)
class AmlData:
    """Accounts and transfers drawn together (synthetic)."""

    accounts: pd.DataFrame
    transfers: pd.DataFrame
    start: pd.Timestamp
    days: int
    threshold: float


def _tickets(weights: np.ndarray, per_account: int = 16) -> np.ndarray:
    """Account ids repeated in proportion to ``weights`` (at least once each, ``per_account`` on average).

    Drawing a uniform position in this array picks accounts by activity with one gather per draw, where
    ``Generator.choice(p=...)`` binary-searches a cumulative table per draw (several times slower at
    hundreds of thousands of accounts); the weights are rounded to whole tickets.
    """
    counts = np.maximum(1, np.rint(weights / weights.sum() * per_account * len(weights))).astype("int64")
    return np.repeat(np.arange(len(weights), dtype="int64"), counts)


def _draw_times(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    """Microseconds since the start, with the hourly and weekly profiles."""
    day_weights = WEEKLY[np.arange(days) % 7]
    day = rng.choice(days, n, p=day_weights / day_weights.sum())
    hour = rng.choice(24, n, p=HOURLY / HOURLY.sum())
    return day.astype("int64") * _US_DAY + hour.astype("int64") * _US_HOUR + rng.integers(0, _US_HOUR, n)


def _accounts(rng: np.random.Generator, n: int, days: int) -> dict[str, np.ndarray]:
    business = rng.choice(len(BUSINESS_TYPES), n, p=list(BUSINESS_TYPES.values()))
    age = rng.choice(len(AGE_BANDS), n, p=list(AGE_BANDS.values()))
    age = np.where(business == 0, age, len(AGE_BANDS))  # businesses: "business"
    residency = rng.choice(len(RESIDENCY), n, p=list(RESIDENCY.values()))
    # opened: most long before the span (negative), a few during it
    opened = -rng.integers(30, 3_650, n).astype("int64") * _US_DAY
    new = rng.random(n) < NEW_ACCOUNT_SHARE
    opened[new] = rng.integers(0, max(1, days - 3) * _US_DAY, int(new.sum()))
    activity = rng.gamma(1.5, 1.0, n) * np.array(list(BUSINESS_ACTIVITY.values()))[business]
    mule = np.ones(n)
    mule *= np.where(age == list(AGE_BANDS).index("18-24"), MULE_WEIGHTS["18-24"], 1.0)
    mule *= np.where(residency == list(RESIDENCY).index("non_resident"), MULE_WEIGHTS["non_resident"], 1.0)
    mule *= np.where(residency == list(RESIDENCY).index("foreign_resident"), MULE_WEIGHTS["foreign_resident"], 1.0)
    mule *= np.where(business == list(BUSINESS_TYPES).index("small_business"), MULE_WEIGHTS["small_business"], 1.0)
    return {"business": business, "age": age, "residency": residency, "opened": opened, "new": new,
            "activity": activity, "mule": mule}  # fmt: skip


class _Laundering:
    """Typology instances, appended as columns of plain lists (a few thousand instances at most per million)."""

    def __init__(self, rng: np.random.Generator, acc: dict[str, np.ndarray], days: int, threshold: float):
        self.rng, self.days, self.threshold = rng, days, threshold
        self.span = days * _US_DAY
        self.opened = acc["opened"]
        weights = acc["mule"] * np.where(acc["new"], 0.2, 1.0)
        size = max(50, int(len(weights) * MULE_POOL_SHARE))
        self.pool = rng.choice(len(weights), size=size, replace=False, p=weights / weights.sum())
        new_accounts = np.flatnonzero(acc["new"] & (acc["opened"] < (days - 4) * _US_DAY))
        self.new_accounts = new_accounts if len(new_accounts) else self.pool
        self.rows: dict[str, list] = {"src": [], "dst": [], "time": [], "amount": [], "fmt": [], "typ": [], "pid": []}
        self.count = 0
        self.instances = 0

    def _members(self, k: int) -> np.ndarray:
        return self.rng.choice(self.pool, size=k, replace=False)

    def _format(self) -> int:
        names = list(LAUNDERING_FORMATS)
        return FORMAT_NAMES.index(names[self.rng.choice(len(names), p=list(LAUNDERING_FORMATS.values()))])

    def _add(self, src, dst, time, amount, typology: str, fmt: int | None = None) -> None:
        src, dst = np.atleast_1d(src), np.atleast_1d(dst)
        time, amount = np.atleast_1d(time), np.atleast_1d(amount)
        # no transfer before either account exists, none after the span
        time = np.minimum(np.maximum(time, np.maximum(self.opened[src], self.opened[dst]) + _US_HOUR), self.span - 1)
        n = len(src)
        self.rows["src"].append(src)
        self.rows["dst"].append(dst)
        self.rows["time"].append(time.astype("int64"))
        self.rows["amount"].append(np.round(np.maximum(amount, 1.0), 2))
        self.rows["fmt"].append(np.full(n, self._format() if fmt is None else fmt))
        self.rows["typ"].append(np.full(n, TYPOLOGY_NAMES.index(typology)))
        self.rows["pid"].append(np.full(n, self.instances))
        self.count += n

    def _hours(self, low: float, high: float, n: int = 1) -> np.ndarray:
        return (self.rng.uniform(low, high, n) * _US_HOUR).astype("int64")

    def instance(self, typology: str) -> None:
        rng = self.rng
        begin = int(rng.integers(0, max(1, self.span - 2 * _US_DAY)))
        base = float(rng.lognormal(math.log(15_000.0), 0.9))
        keep = lambda n: rng.uniform(0.96, 0.995, n)  # noqa: E731 - the share a hop passes on (fees)
        if typology in ("fan_out", "fan_in"):
            k = int(rng.integers(4, 13))
            hub, others = self._members(1)[0], self._members(k)
            others = others[others != hub]
            times = begin + np.sort(self._hours(0, 72, len(others)))
            parts = base * rng.dirichlet(np.ones(len(others))) * len(others) / 3
            if typology == "fan_out":
                self._add(np.full(len(others), hub), others, times, parts, typology)
            else:
                self._add(others, np.full(len(others), hub), times, parts, typology)
        elif typology == "cycle":
            length = int(rng.integers(3, 9))
            ring = self._members(length)
            gaps = np.cumsum(self._hours(2, 48, length))
            self._add(ring, np.roll(ring, -1), begin + gaps, base * np.cumprod(keep(length)), typology)
        elif typology in ("scatter_gather", "gather_scatter"):
            k = int(rng.integers(3, 9))
            members = self._members(k + 2)
            ends, middle = members[:2], members[2:]
            first = begin + self._hours(0, 24, k)
            amounts = base * rng.dirichlet(np.ones(k)) * k / 2
            if typology == "scatter_gather":  # source -> k intermediaries -> sink
                self._add(np.full(k, ends[0]), middle, first, amounts, typology)
                self._add(middle, np.full(k, ends[1]), first + self._hours(1, 36, k), amounts * keep(k), typology)
            else:  # k senders -> hub -> k receivers
                hub = ends[0]
                self._add(middle, np.full(k, hub), first, amounts, typology)
                receivers = self._members(k)
                receivers = receivers[receivers != hub]
                total = amounts.sum() * 0.98
                out = total * rng.dirichlet(np.ones(len(receivers)))
                self._add(np.full(len(receivers), hub), receivers, first.max() + self._hours(1, 24, len(receivers)),
                          out, typology)  # fmt: skip
        elif typology == "bipartite":
            m, n = int(rng.integers(2, 5)), int(rng.integers(2, 5))
            members = self._members(m + n)
            src, dst = np.repeat(members[:m], n), np.tile(members[m:], m)
            self._add(src, dst, begin + self._hours(0, 96, m * n), base / 2 * rng.uniform(0.5, 1.5, m * n), typology)
        elif typology == "stacked_bipartite":
            sizes = rng.integers(2, 4, 3)
            members = self._members(int(sizes.sum()))
            layers = np.split(members, np.cumsum(sizes)[:-1])
            when = begin
            for a, b in ((layers[0], layers[1]), (layers[1], layers[2])):
                src, dst = np.repeat(a, len(b)), np.tile(b, len(a))
                self._add(src, dst, when + self._hours(0, 24, len(src)), base / 2 * rng.uniform(0.5, 1.5, len(src)),
                          typology)  # fmt: skip
                when += 30 * _US_HOUR
        elif typology == "structuring":
            k = int(rng.integers(4, 11))
            target = self._members(1)[0]
            smurfs = self._members(int(rng.integers(1, 4)))
            smurfs = smurfs[smurfs != target] if (smurfs != target).any() else smurfs
            times = begin + np.sort(self._hours(0, 24 * rng.uniform(2, 7), k))
            deposits = self.threshold * rng.uniform(0.85, 0.999, k)
            self._add(rng.choice(smurfs, k), np.full(k, target), times, deposits, typology, FORMAT_NAMES.index("Cash"))
            self._add(target, self._members(1), times.max() + self._hours(12, 72), deposits.sum() * 0.97, typology,
                      FORMAT_NAMES.index("Wire"))  # fmt: skip
        elif typology == "rapid_movement":
            account = int(rng.choice(self.new_accounts))
            k = int(rng.integers(1, 4))
            start = max(begin, int(self.opened[account]) + _US_HOUR)
            start = min(start, self.span - 3 * _US_DAY)
            members = self._members(2 * k + 1)
            members = members[members != account][: 2 * k]
            senders, receivers = members[:k], members[k:]
            times = start + np.sort(self._hours(0, 48, k))
            amounts = base * rng.uniform(0.5, 1.5, k)
            self._add(senders, np.full(k, account), times, amounts, typology)
            self._add(np.full(k, account), receivers, times + self._hours(0.5, 12, k), amounts * keep(k), typology,
                      FORMAT_NAMES.index("Wire"))  # fmt: skip
        else:  # pragma: no cover - the names come from TYPOLOGIES
            raise ValueError(f"typology: unknown {typology!r}")
        self.instances += 1

    def columns(self) -> dict[str, np.ndarray]:
        if not self.count:
            return {key: np.empty(0, dtype="int64") for key in self.rows}
        return {key: np.concatenate(parts) for key, parts in self.rows.items()}


def synthetic_aml_data(
    n_transfers: int,
    seed: int = 0,
    *,
    days: int = 28,
    illicit_ratio: float = HI_ILLICIT_RATIO,
    threshold: float = REPORTING_THRESHOLD,
    start: str = "2026-01-05",
) -> AmlData:
    """About ``n_transfers`` synthetic transfers over ``days`` days and the accounts they move between.

    Accounts (one row each): ``account_id``, ``business_type`` (individual / small_business / corporate),
    ``age_band`` ("business" for businesses), ``residency`` (domestic / foreign_resident / non_resident),
    ``opened`` (UTC), ``is_laundering`` (took part in any laundering transfer) and ``typology`` (the first).
    Transfers, sorted by time: ``transfer_id``, ``timestamp`` (UTC, microseconds), ``from_account``,
    ``to_account``, ``amount``, ``payment_format``, ``is_laundering``, ``typology`` ("none" for ordinary ones)
    and ``pattern_id`` (the laundering instance, -1 for ordinary ones). Typology instances are whole, so the
    laundering count lands within one instance of ``illicit_ratio`` x ``n_transfers``.
    """
    if n_transfers < 1_000:
        raise ValueError(f"n_transfers: at least 1,000, got {n_transfers}")
    if days < 7:
        raise ValueError(f"days: at least 7, got {days}")
    if not 0.0 < illicit_ratio < 0.05:
        raise ValueError(f"illicit_ratio: between 0 and 0.05, got {illicit_ratio}")
    if not threshold > 0:
        raise ValueError(f"threshold: must be positive, got {threshold}")
    rng = np.random.default_rng(seed)
    n_accounts = max(200, int(round(n_transfers / (TRANSFERS_PER_ACCOUNT_DAY * days))))
    acc = _accounts(rng, n_accounts, days)

    # laundering first: the instances decide how many ordinary transfers fill the rest
    laundering = _Laundering(rng, acc, days, threshold)
    names, shares = list(TYPOLOGIES), np.array(list(TYPOLOGIES.values()))
    target = max(1, int(round(n_transfers * illicit_ratio)))
    # one instance of every typology first (in a seeded order), so any sample with room for them has all
    for name in rng.permutation(names):
        if laundering.count >= target:
            break
        laundering.instance(str(name))
    while laundering.count < target:
        laundering.instance(names[rng.choice(len(names), p=shares / shares.sum())])
    bad = laundering.columns()

    # ordinary transfers, one vectorised pass
    n = max(0, n_transfers - laundering.count)
    # accounts in the laundering pool do little else (mules' own accounts)
    activity = acc["activity"].copy()
    activity[laundering.pool] *= MULE_OWN_ACTIVITY
    weights = activity / activity.sum()
    tickets = _tickets(weights)
    src = tickets[rng.integers(0, len(tickets), n)]
    fmt = rng.choice(len(FORMATS), n, p=[s for s, _ in FORMATS.values()]).astype("int64")
    # each account pays mostly a few regular counterparties (a fixed hash of the account), sometimes anyone
    regular = (src * 2_654_435_761 + rng.integers(0, 5, n) * 40_503 + seed) % n_accounts
    dst = np.where(rng.random(n) < 0.7, regular, tickets[rng.integers(0, len(tickets), n)])
    dst = np.where(fmt == FORMAT_NAMES.index("Reinvestment"), src, dst)
    medians = np.array([m for _, m in FORMATS.values()])
    scale = np.array(list(BUSINESS_SCALE.values()))[acc["business"][src]]
    amount = np.round(np.maximum(rng.lognormal(np.log(medians[fmt] * scale), _SIGMA), 0.01), 2)
    time = _draw_times(rng, n, days)
    # nobody pays before an account is opened: such draws move after the opening
    opened = np.maximum(acc["opened"][src], acc["opened"][dst])
    late = time < opened
    time[late] = opened[late] + (rng.random(int(late.sum())) * (days * _US_DAY - opened[late])).astype("int64")

    src = np.concatenate([src, bad["src"]])
    dst = np.concatenate([dst, bad["dst"]])
    time = np.concatenate([time, bad["time"]])
    amount = np.concatenate([amount, bad["amount"]])
    fmt = np.concatenate([fmt, bad["fmt"]])
    typ = np.concatenate([np.zeros(n, dtype="int64"), bad["typ"]])
    pid = np.concatenate([np.full(n, -1, dtype="int64"), bad["pid"]])
    order = np.argsort(time, kind="stable")
    origin = pd.Timestamp(start, tz="UTC")
    origin_us = origin.value // 1000
    transfers = pd.DataFrame(
        {
            "transfer_id": np.arange(len(order), dtype="int64"),
            "timestamp": pd.DatetimeIndex((origin_us + time[order]).astype("datetime64[us]"), tz="UTC"),
            "from_account": src[order].astype("int64"),
            "to_account": dst[order].astype("int64"),
            "amount": amount[order],
            "payment_format": pd.Categorical.from_codes(fmt[order], categories=list(FORMAT_NAMES)),
            "is_laundering": (typ[order] > 0).astype("int8"),
            "typology": pd.Categorical.from_codes(typ[order], categories=list(TYPOLOGY_NAMES)),
            "pattern_id": pid[order].astype("int32"),
        }
    )

    # account labels: laundering if in any laundering transfer; typology of its first one
    first_typology = np.zeros(n_accounts, dtype="int64")
    if laundering.count:
        lt = transfers[transfers["is_laundering"] == 1]
        parties = np.concatenate([lt["from_account"].to_numpy(), lt["to_account"].to_numpy()])
        codes = np.concatenate([lt["typology"].cat.codes.to_numpy()] * 2)
        when = np.concatenate([lt["transfer_id"].to_numpy()] * 2)
        firsts = np.lexsort((when, parties))
        parties, codes = parties[firsts], codes[firsts]
        keep = np.r_[True, parties[1:] != parties[:-1]]
        first_typology[parties[keep]] = codes[keep]
    accounts = pd.DataFrame(
        {
            "account_id": np.arange(n_accounts, dtype="int64"),
            "business_type": pd.Categorical.from_codes(acc["business"], categories=list(BUSINESS_TYPES)),
            "age_band": pd.Categorical.from_codes(acc["age"], categories=list(AGE_BAND_NAMES)),
            "residency": pd.Categorical.from_codes(acc["residency"], categories=list(RESIDENCY)),
            "opened": pd.DatetimeIndex((origin_us + acc["opened"]).astype("datetime64[us]"), tz="UTC"),
            "is_laundering": (first_typology > 0).astype("int8"),
            "typology": pd.Categorical.from_codes(first_typology, categories=list(TYPOLOGY_NAMES)),
        }
    )
    return AmlData(accounts=accounts, transfers=transfers, start=origin, days=days, threshold=threshold)


def synthetic_aml_transfers(n_transfers: int, seed: int = 0, **options) -> pd.DataFrame:
    """The transfers of :func:`synthetic_aml_data` alone (synthetic), for callers that draw rows by count and seed."""
    return synthetic_aml_data(n_transfers, seed, **options).transfers


def account_period_labels(data: AmlData, period_days: int = 7) -> pd.DataFrame:
    """One row per account and period: ``as_of`` (the period's end), laundering and SAR labels, typology.

    Periods are ``period_days`` long from the data's start; ``as_of`` is the exclusive end, the time features
    are read at. ``is_laundering`` and ``sar`` are 1 when the account sent or received a laundering transfer in
    the period (a complete investigation files a SAR on it); ``typology`` is that transfer's (the first),
    "none" otherwise. Every account appears in every period that ends after it was opened.
    """
    if period_days < 1:
        raise ValueError(f"period_days: at least 1, got {period_days}")
    transfers, accounts = data.transfers, data.accounts
    step = pd.Timedelta(days=period_days)
    n_periods = math.ceil(data.days / period_days)
    ends = data.start + step * np.arange(1, n_periods + 1)
    account = np.repeat(accounts["account_id"].to_numpy(), n_periods)
    period = np.tile(np.arange(n_periods), len(accounts))
    as_of = pd.DatetimeIndex(ends)[period]
    opened = pd.DatetimeIndex(accounts["opened"]).as_unit("us").asi8[account]
    alive = opened < as_of.as_unit("us").asi8
    frame = pd.DataFrame({"account_id": account[alive], "period": period[alive], "as_of": as_of[alive]})

    bad = transfers[transfers["is_laundering"] == 1]
    bad_period = ((bad["timestamp"] - data.start) // step).to_numpy().astype("int64")
    parties = pd.DataFrame(
        {
            "account_id": np.concatenate([bad["from_account"].to_numpy(), bad["to_account"].to_numpy()]),
            "period": np.concatenate([bad_period, bad_period]),
            "order": np.concatenate([bad["transfer_id"].to_numpy()] * 2),
            "typology": np.concatenate([bad["typology"].cat.codes.to_numpy()] * 2),
        }
    ).sort_values("order", kind="stable")
    first = parties.drop_duplicates(["account_id", "period"])[["account_id", "period", "typology"]]
    frame = frame.merge(first, on=["account_id", "period"], how="left")
    codes = frame["typology"].fillna(0).to_numpy().astype("int64")
    frame["typology"] = pd.Categorical.from_codes(codes, categories=list(TYPOLOGY_NAMES))
    frame["is_laundering"] = (codes > 0).astype("int8")
    frame["sar"] = frame["is_laundering"]
    return frame


def _quartiles(values: np.ndarray) -> str:
    q = np.quantile(values, [0.25, 0.5, 0.75])
    return " / ".join(f"{v:,.2f}" for v in q)


def measure_calibration(data: AmlData) -> dict[str, str]:
    """The generator's side of the calibration table, measured on ``data``."""
    t = data.transfers
    n, bad = len(t), int(t["is_laundering"].sum())
    accounts = np.union1d(t["from_account"].to_numpy(), t["to_account"].to_numpy()).size
    shares = t["payment_format"].value_counts(normalize=True).sort_index()
    mix = t.loc[t["is_laundering"] == 1, "typology"].value_counts(normalize=True)
    return {
        "laundering transfers (illicit ratio)": f"{bad:,} of {n:,} = {bad / n:.4%}, 1 in {n / max(bad, 1):,.0f}",
        "transfers per account (active accounts)": f"{n / accounts:.2f} over {data.days} days "
        f"({n / accounts / data.days * 17.68:.2f} scaled to 17.7 days)",
        "amount: 25th / 50th / 75th percentile": _quartiles(t["amount"].to_numpy()),
        "payment format shares": ", ".join(f"{k} {v:.1%}" for k, v in shares.items()),
        "typology mix (share of laundering transfers)": ", ".join(
            f"{k} {v:.1%}" for k, v in mix[mix > 0].sort_index().items()
        ),
        "self-transfers": f"{(t['from_account'] == t['to_account']).mean():.1%} of transfers (the Reinvestment ones)",
    }


#: (statistic, published value, source, generator value measured on 1,000,000 transfers, seed 0)
AML_CALIBRATION: tuple[tuple[str, str, str, str], ...] = (
    (
        "laundering transfers (illicit ratio)",
        "HI-Small: 5,177 of 5,078,345 = 0.1019%, 1 in 981",
        "github.com/terencekaplan/ma-unisg; github.com/euph00/AML-GNN-project",
        "",
    ),
    (
        "transfers per account (active accounts)",
        "HI-Small: 5,078,345 / 515,080 = 9.86 over 17.7 days",
        "github.com/terencekaplan/ma-unisg",
        "",
    ),
    (
        "amount: 25th / 50th / 75th percentile",
        "HI-Small Amount Paid: 184.48 / 1,414.54 / 12,297.84",
        "github.com/euph00/AML-GNN-project",
        "",
    ),
    (
        "payment format shares",
        "formats Reinvestment, Cheque, ACH, Credit Card, Wire, Cash, Bitcoin; shares not found",
        "github.com/bjain853/AML-project; github.com/keval3107/nitilens-ai-compliance-platform",
        "",
    ),
    (
        "typology mix (share of laundering transfers)",
        "fan-out, fan-in, cycle (max 10 hops), scatter-gather, gather-scatter, bipartite, stack; shares not found",
        "arXiv 2306.16424; github.com/giovanni-gg/mbml_project",
        "",
    ),
    (
        "self-transfers",
        "Reinvestment rows pay the same account",
        "github.com/bjain853/AML-project",
        "",
    ),
    (
        "LI illicit ratio",
        "LI-Small has 6,924,049 rows (12,002,394 with HI-Small); its laundering count not found",
        "github.com/bjain853/AML-project",
        "illicit_ratio option (default HI)",
    ),
)

#: the generator column of AML_CALIBRATION as measured on synthetic_aml_data(1_000_000, seed=0); a test keeps it true
MEASURED_1M: dict[str, str] = {
    "laundering transfers (illicit ratio)": "1,025 of 1,000,000 = 0.1025%, 1 in 976",
    "transfers per account (active accounts)": "15.62 over 28 days (9.86 scaled to 17.7 days)",
    "amount: 25th / 50th / 75th percentile": "215.85 / 1,654.22 / 13,671.40",
    "payment format shares": "ACH 14.0%, Bitcoin 2.0%, Cash 10.0%, Cheque 30.0%, Credit "
    "Card 26.0%, Reinvestment 13.0%, Wire 5.0%",
    "typology mix (share of laundering transfers)": "fan_out 11.4%, fan_in 14.8%, cycle 6.0%, scatter_gather "
    "12.3%, gather_scatter 17.3%, bipartite 10.5%, "
    "stacked_bipartite 7.2%, structuring 10.7%, rapid_movement "
    "9.8%",
    "self-transfers": "13.0% of transfers (the Reinvestment ones)",
}


def aml_calibration_table(measure_on: AmlData | None = None) -> pd.DataFrame:
    """Statistic, published value, source and the generator's value, as documents print it.

    The generator's values are those measured on 1,000,000 transfers (seed 0), or measured on ``measure_on``.
    The data is synthetic; the table says how close to AMLworld it is drawn and where it is an assumption.
    """
    measured = measure_calibration(measure_on) if measure_on is not None else MEASURED_1M
    rows = [(s, p, src, measured.get(s, g)) for s, p, src, g in AML_CALIBRATION]
    return pd.DataFrame(rows, columns=["statistic", "published", "source", "generator"])
