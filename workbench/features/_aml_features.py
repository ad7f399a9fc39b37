"""Account-level transaction-monitoring features over time windows, point in time.

An AML model scores an account at an as-of time (the end of a review period) from what the account did in
the days before: money in against money out, how many counterparties and how many of them new, fan-in and
fan-out, the share moved in cash, amounts just under the reporting threshold, and how fast money passes
through. Every figure is computed strictly from transfers *before* the as-of time: the window of ``w`` days
is ``[as_of - w, as_of)``, so a transfer stamped exactly at the as-of time belongs to the next period.

Hand-written because the windows are domain logic and the volumes are large: each transfer becomes two
account events (out for the sender, in for the receiver), sorted by account and time once; a window is an
index range found by ``searchsorted``; sums and counts are differences of prefix sums; a distinct count is the
number of events in the range whose previous event with the same counterparty lies before the range; medians
of pass-through times group the few matched outflows. Vectorised numpy throughout, queries in chunks so memory
stays bounded (BENCHMARKS.md, "AML data and account features over
10,000,000 transfers").

Features, for each window ``w`` (``_{w}d`` suffix):

- ``inflow`` / ``outflow``: amounts received / sent; ``transfers``: count of both.
- ``inflow_outflow_ratio``: inflow / max(outflow, 1): about 1 for an account money passes through.
- ``counterparties``: distinct accounts it exchanged money with (itself excluded); ``fan_in`` distinct senders;
  ``fan_out`` distinct receivers.
- ``new_counterparties``: counterparties whose first transfer with the account (in all history before the
  as-of time) falls in the window; ``new_senders`` the same for senders.
- ``cash_share``: share of the value moved (in and out) in cash.
- ``under_threshold_count`` / ``under_threshold_share``: transfers (in or out) with an amount in
  ``[near * threshold, threshold)``, count and share of all transfers.
- ``pass_through_hours``: median, over outflows in the window that forward a recent inflow (the latest inflow
  from another account before the outflow, the outflow between ``similar[0]`` and ``similar[1]`` times its
  amount), of the hours between the two; the window's length in hours when no outflow forwards anything.

Self-transfers (an account paying itself, AMLworld's Reinvestment) count in amounts and transfers but not as
counterparties. History starts with the data: counterparties in the first window are all new.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

WINDOWS_DAYS = (7, 30)
FEATURES = (
    "inflow",
    "outflow",
    "transfers",
    "inflow_outflow_ratio",
    "counterparties",
    "fan_in",
    "fan_out",
    "new_counterparties",
    "new_senders",
    "cash_share",
    "under_threshold_count",
    "under_threshold_share",
    "pass_through_hours",
)
TRANSFER_COLUMNS = ("timestamp", "from_account", "to_account", "amount", "payment_format")
_US_HOUR = 3_600_000_000
_US_DAY = 24 * _US_HOUR


def feature_names(windows: Sequence[int] = WINDOWS_DAYS) -> list[str]:
    """The output columns, window by window: ``inflow_7d``, ..., ``pass_through_hours_30d``."""
    return [f"{name}_{w}d" for w in windows for name in FEATURES]


def _micros(values: pd.Series | pd.DatetimeIndex, what: str) -> np.ndarray:
    stamps = pd.to_datetime(values, utc=True)
    if pd.isna(stamps).any():
        raise ValueError(f"{what}: {int(pd.isna(stamps).sum())} missing time(s)")
    return pd.DatetimeIndex(stamps).as_unit("us").asi8


def _ids(values: pd.Series, what: str) -> np.ndarray:
    """Integer account ids, or an error naming the column (map other keys to integers first)."""
    if values.isna().any():
        raise ValueError(f"{what}: {int(values.isna().sum())} missing account id(s)")
    if not pd.api.types.is_integer_dtype(values.dtype):
        raise ValueError(f"{what}: integer account ids expected, got {values.dtype} (map keys to integers first)")
    return values.to_numpy().astype("int64")


def _events(transfers: pd.DataFrame, threshold: float, near: float, similar: tuple[float, float]) -> dict:
    """Account events sorted by (account, time), with the per-event flags and previous-occurrence indices."""
    missing = [c for c in TRANSFER_COLUMNS if c not in transfers.columns]
    if missing:
        raise ValueError(f"transfers: missing column(s) {missing}")
    time = _micros(transfers["timestamp"], "transfers.timestamp")
    src = _ids(transfers["from_account"], "transfers.from_account")
    dst = _ids(transfers["to_account"], "transfers.to_account")
    amount = transfers["amount"].to_numpy().astype(float)
    if np.isnan(amount).any() or (amount < 0).any():
        raise ValueError("transfers.amount: missing or negative amounts")
    formats = transfers["payment_format"]
    if isinstance(formats.dtype, pd.CategoricalDtype):  # compare the few categories, not every row's text
        codes = formats.cat.codes.to_numpy()
        cash = (np.asarray(formats.cat.categories.astype(str)) == "Cash")[codes] & (codes >= 0)
    else:
        cash = (formats.astype(str) == "Cash").to_numpy()
    n = len(time)
    account = np.concatenate([src, dst])
    other = np.concatenate([dst, src])
    inflow = np.r_[np.zeros(n, bool), np.ones(n, bool)]
    t = np.concatenate([time, time])
    amt = np.concatenate([amount, amount])
    del src, dst, time, amount
    # by account, time, and inflows before outflows at the same time (money arrives, then leaves)
    order = _sort_order(account, t, ~inflow)
    account, other, inflow, t, amt = account[order], other[order], inflow[order], t[order], amt[order]
    cash2 = np.concatenate([cash, cash])[order]
    del order, cash
    self_transfer = account == other

    def previous(key_parts: tuple[np.ndarray, ...], mask: np.ndarray) -> np.ndarray:
        """Index of the previous event with the same key among ``mask`` events (-1 if none); -2 off the mask."""
        idx = np.flatnonzero(mask)
        first, second = (k[idx] for k in key_parts)
        width = int(second.max() - second.min() + 1) if len(idx) else 1
        if len(idx) and int(first.max() - first.min() + 1) < np.iinfo("int64").max // width:
            packed = (first - first.min()) * width + (second - second.min())
            by = np.argsort(packed, kind="stable")  # stable: index (time) order within a pair
        else:  # pragma: no cover - ids too far apart to pack
            by = np.lexsort((idx, second, first))
        sorted_idx = idx[by]
        same = np.ones(len(sorted_idx), bool)
        for k in key_parts:
            v = k[sorted_idx]
            same[1:] &= v[1:] == v[:-1]
        same[0] = False
        prev = np.full(len(account), -2, dtype="int64")
        prev[sorted_idx] = np.where(same, np.r_[-1, sorted_idx[:-1]], -1)
        return prev

    counted = ~self_transfer
    prev_any = previous((account, other), counted)
    prev_in = previous((account, other), counted & inflow)
    prev_out = previous((account, other), counted & ~inflow)
    del other

    # pass-through: the latest inflow before each outflow, on the same account
    position = np.arange(len(account))
    last_in = np.maximum.accumulate(np.where(inflow & ~self_transfer, position, -1))
    candidate = np.r_[-1, last_in[:-1]]
    block_start = np.r_[0, np.flatnonzero(account[1:] != account[:-1]) + 1]
    first_of_block = np.repeat(block_start, np.diff(np.r_[block_start, len(account)]))
    ok = ~inflow & (candidate >= first_of_block) & ~self_transfer
    j = np.where(ok, candidate, 0)
    ratio = np.divide(amt, amt[j], out=np.zeros_like(amt), where=amt[j] > 0)
    ok &= (ratio >= similar[0]) & (ratio <= similar[1])
    pass_hours = np.where(ok, (t - t[j]) / _US_HOUR, np.nan)
    del position, last_in, candidate, first_of_block, ok, j, ratio

    under = (amt >= near * threshold) & (amt < threshold)
    return {
        "account": account,
        "time": t,
        "inflow": inflow,
        "amount": amt,
        "cash_amount": np.where(cash2, amt, 0.0),
        "under": under,
        "counted": counted,
        "prev_any": prev_any,
        "prev_in": prev_in,
        "prev_out": prev_out,
        "pass_hours": pass_hours,
    }


def _sort_order(account: np.ndarray, time: np.ndarray, tie: np.ndarray) -> np.ndarray:
    """Order by account, then time, then ``tie`` (False first): one packed-key sort when the values fit."""
    if len(time):
        base, span = int(time.min()), int(time.max() - time.min()) + 1
        low = int(account.min())
        if int(account.max()) - low + 1 < np.iinfo("int64").max // (2 * span):
            packed = ((account - low) * span + (time - base)) * 2 + tie
            return np.argsort(packed, kind="stable")
    return np.lexsort((tie, time, account))


def _prefix(values: np.ndarray) -> tuple[np.ndarray, float]:
    """Running totals with a leading 0: a window's sum is a difference of two entries.

    Returns the totals and the divisor that turns a difference of them back into the values' unit. Money in
    whole cents is summed as integer cents, so a window's sum is exact however large the running total grows;
    other values in floating point (a difference then carries the running total's rounding, about 1e-16 of it).
    """
    if values.dtype == bool:
        return np.r_[0, np.cumsum(values, dtype="int64")], 1.0
    cents = np.rint(values * 100.0)
    if len(values) and np.abs(cents).sum() < 2.0**62 and np.array_equal(cents / 100.0, values):
        return np.r_[0, np.cumsum(cents.astype("int64"))], 100.0
    return np.r_[0.0, np.cumsum(values, dtype=float)], 1.0


def account_features(
    transfers: pd.DataFrame,
    as_of: pd.DataFrame,
    *,
    windows: Sequence[int] = WINDOWS_DAYS,
    threshold: float = 10_000.0,
    near: float = 0.9,
    similar: tuple[float, float] = (0.8, 1.05),
    chunk_events: int = 5_000_000,
) -> pd.DataFrame:
    """Features per row of ``as_of`` (columns ``account_id`` and ``as_of``), from transfers before each as-of.

    Returns ``as_of``'s rows in their order with :func:`feature_names` columns added. ``transfers`` needs
    ``timestamp``, ``from_account``, ``to_account``, ``amount`` and ``payment_format``. ``chunk_events`` bounds
    the events expanded at once for the distinct counts (memory, not results).
    """
    for column in ("account_id", "as_of"):
        if column not in as_of.columns:
            raise ValueError(f"as_of: missing column {column!r}")
    if not windows or any(int(w) < 1 for w in windows):
        raise ValueError(f"windows: whole days of at least 1, got {list(windows)}")
    if not 0 < near < 1:
        raise ValueError(f"near: between 0 and 1, got {near}")
    ev = _events(transfers, threshold, near, similar)
    key = ev["account"]
    q_account = _ids(as_of["account_id"], "as_of.account_id")
    q_time = _micros(as_of["as_of"], "as_of.as_of")
    # (account, time) is sorted lexicographically: a window is one index range
    hi = _search(key, ev["time"], q_account, q_time)
    inflow, counted = ev["inflow"], ev["counted"]
    once = ~(inflow & ~counted)  # a self-transfer is one transfer seen twice: count it once (its outflow side)
    summed = {
        "inflow": lambda: np.where(inflow, ev["amount"], 0.0),
        "outflow": lambda: np.where(~inflow, ev["amount"], 0.0),
        "transfers": lambda: once,
        "cash": lambda: ev["cash_amount"],
        "total": lambda: ev["amount"],
        "under": lambda: ev["under"] & once,
        "new_any": lambda: ev["prev_any"] == -1,
        "new_in": lambda: inflow & (ev["prev_in"] == -1),
    }
    los = {w: _search(key, ev["time"], q_account, q_time - int(w) * _US_DAY) for w in windows}
    window_sums: dict[int, dict[str, np.ndarray]] = {w: {} for w in windows}
    for name, values in summed.items():  # one running total at a time: memory, not results
        prefix, scale = _prefix(values())
        for w in windows:
            window_sums[w][name] = (prefix[hi] - prefix[los[w]]) / scale
        del prefix
    out = as_of.copy()
    for w in windows:
        lo, d = los[w], window_sums[w]
        distinct = _distinct_and_median(ev, lo, hi, chunk_events)
        hours = float(w) * 24.0
        columns = {
            "inflow": d["inflow"],
            "outflow": d["outflow"],
            "transfers": d["transfers"],
            "inflow_outflow_ratio": d["inflow"] / np.maximum(d["outflow"], 1.0),
            "counterparties": distinct["any"],
            "fan_in": distinct["in"],
            "fan_out": distinct["out"],
            "new_counterparties": d["new_any"],
            "new_senders": d["new_in"],
            "cash_share": np.divide(d["cash"], d["total"], out=np.zeros_like(d["cash"]), where=d["total"] > 0),
            "under_threshold_count": d["under"],
            "under_threshold_share": np.divide(
                d["under"], d["transfers"], out=np.zeros_like(d["under"]), where=d["transfers"] > 0
            ),
            "pass_through_hours": np.where(np.isnan(distinct["median"]), hours, distinct["median"]),
        }
        for name in FEATURES:
            out[f"{name}_{w}d"] = columns[name]
    return out


def _search(account: np.ndarray, time: np.ndarray, q_account: np.ndarray, q_time: np.ndarray) -> np.ndarray:
    """Index of the first event of ``q_account`` at or after ``q_time`` (events sorted by account, then time).

    The (account, time) pairs are packed into one monotone int64 key when they fit (one ``searchsorted``);
    otherwise events and queries are sorted together and each query counts the events before it.
    """
    if not len(time) or not len(q_time):
        return np.searchsorted(account, q_account, side="left")
    base = min(int(time.min()), int(q_time.min()))
    span = max(int(time.max()), int(q_time.max())) - base + 1
    largest = max(abs(int(account.min())), abs(int(account.max())), abs(int(q_account.min())),
                  abs(int(q_account.max()))) + 1  # fmt: skip
    if largest < np.iinfo("int64").max // (2 * span):
        keys = account * span + (time - base)
        return np.searchsorted(keys, q_account * span + (q_time - base), side="left")
    is_event = np.r_[np.ones(len(time), bool), np.zeros(len(q_time), bool)]
    order = np.lexsort((is_event, np.r_[time, q_time], np.r_[account, q_account]))
    before = np.cumsum(is_event[order]) - is_event[order]
    found = np.empty(len(q_time), dtype="int64")
    queries = order >= len(time)
    found[order[queries] - len(time)] = before[queries]
    return found


def _distinct_and_median(ev: dict, lo: np.ndarray, hi: np.ndarray, chunk_events: int) -> dict[str, np.ndarray]:
    """Distinct counterparties (any, senders, receivers) and the median pass-through per query range."""
    n_q = len(lo)
    out = {k: np.zeros(n_q) for k in ("any", "in", "out")}
    out["median"] = np.full(n_q, np.nan)
    sizes = hi - lo
    ends = np.cumsum(sizes)
    starts_q = 0
    while starts_q < n_q:
        # queries [starts_q, stop) expand to at most chunk_events events (at least one query)
        budget = (ends[starts_q - 1] if starts_q else 0) + chunk_events
        stop = max(starts_q + 1, int(np.searchsorted(ends, budget, side="right")))
        q = np.arange(starts_q, stop)
        counts = sizes[q]
        total = int(counts.sum())
        if total:
            qrep = np.repeat(q - starts_q, counts)
            offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            idx = np.repeat(lo[q], counts) + offsets
            lo_rep = np.repeat(lo[q], counts)
            n_chunk = len(q)
            first_any = (ev["prev_any"][idx] > -2) & (ev["prev_any"][idx] < lo_rep)
            first_in = (ev["prev_in"][idx] > -2) & (ev["prev_in"][idx] < lo_rep)
            first_out = (ev["prev_out"][idx] > -2) & (ev["prev_out"][idx] < lo_rep)
            out["any"][q] = np.bincount(qrep, weights=first_any, minlength=n_chunk)
            out["in"][q] = np.bincount(qrep, weights=first_in, minlength=n_chunk)
            out["out"][q] = np.bincount(qrep, weights=first_out, minlength=n_chunk)
            hours = ev["pass_hours"][idx]
            has = ~np.isnan(hours)
            if has.any():
                medians = pd.Series(hours[has]).groupby(qrep[has]).median()
                out["median"][q[medians.index.to_numpy()]] = medians.to_numpy()
        starts_q = stop
    return out
