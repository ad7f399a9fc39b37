"""Synthetic card transactions with fraud and delayed chargeback labels, calibrated to PaySim and BankSim.

No real card-fraud data may be shipped, so the workbench draws it: customers with one or two cards, merchants
in BankSim's 15 categories, amounts per category, time of day and week, channels, and fraud at a rate well
under 1% in three documented patterns, each label arriving as a chargeback days to weeks after the
transaction. Everything is vectorised numpy, deterministic by seed (a million rows in about three seconds).

The generator is hand-written because it is domain logic: the calibration below is the point of it.
``CALIBRATION`` states every figure it is calibrated to with its source, and documents of any model trained
on it print that table and say plainly that the data is synthetic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PAYSIM = (
    "PaySim: Lopez-Rojas, Elmir & Axelsson, 'PaySim: a financial mobile money simulator for fraud detection', "
    "28th European Modeling and Simulation Symposium (EMSS), 2016; data set 'Synthetic Financial Datasets For "
    "Fraud Detection', kaggle.com/datasets/ealaxi/paysim1"
)
BANKSIM = (
    "BankSim: Lopez-Rojas & Axelsson, 'BankSim: a bank payments simulator for fraud detection research', "
    "26th European Modeling and Simulation Symposium (EMSS), 2014; data set 'Synthetic data from a financial "
    "payment system', kaggle.com/datasets/ealaxi/banksim1"
)

#: BankSim's categories: (name, share of transactions, mean amount, share of the category that is fraud).
#: Shares and means as published with the BankSim data set (594,643 payments over 180 days), rounded.
CATEGORIES: tuple[tuple[str, float, float, float], ...] = (
    ("transportation", 0.8494, 26.96, 0.0),
    ("food", 0.0444, 37.07, 0.0),
    ("health", 0.0272, 135.62, 0.105),
    ("wellnessandbeauty", 0.0254, 65.51, 0.048),
    ("fashion", 0.0109, 65.67, 0.018),
    ("barsandrestaurants", 0.0110, 43.46, 0.019),
    ("hyper", 0.0103, 45.97, 0.046),
    ("sportsandtoys", 0.0068, 215.72, 0.495),
    ("tech", 0.0040, 120.95, 0.067),
    ("home", 0.0033, 165.67, 0.152),
    ("hotelservices", 0.0029, 205.61, 0.314),
    ("otherservices", 0.0015, 135.88, 0.250),
    ("contents", 0.0015, 44.55, 0.0),
    ("travel", 0.0012, 2250.41, 0.794),
    ("leisure", 0.0008, 288.91, 0.950),
)

#: Fraud patterns and their shares of fraud transactions (the shares are this generator's assumption).
PATTERNS = {"account_takeover": 0.45, "card_testing": 0.35, "merchant_compromise": 0.20}

#: Channels and their shares of genuine transactions (an assumption: neither source has channels).
CHANNELS = {"card_present": 0.50, "contactless": 0.30, "online": 0.20}

#: Relative activity by hour of day (low at night, peaks at lunch and early evening): an assumption shaped
#: like PaySim's hourly step counts, which are low in the first hours of each day.
HOURLY = np.array([0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 0.8, 1.2, 1.5, 1.6, 1.7, 1.9, 2.1, 1.9, 1.7, 1.7, 1.8, 2.0,
                   2.0, 1.8, 1.5, 1.1, 0.7, 0.4])  # fmt: skip
#: Relative activity by weekday, Monday first (an assumption: a lighter Sunday).
WEEKLY = np.array([1.0, 1.0, 1.0, 1.05, 1.15, 1.1, 0.7])

#: BankSim's age groups (0: <= 18 ... 6: > 65) as ages, with their shares of customers (rounded).
AGE_BANDS = ((16, 19, 0.004), (19, 26, 0.098), (26, 36, 0.315), (36, 46, 0.247), (46, 56, 0.182),
             (56, 66, 0.105), (66, 86, 0.049))  # fmt: skip
#: BankSim's customers by gender (enterprise and unknown pooled into F and M in proportion).
FEMALE_SHARE = 0.548

#: The default fraud rate by count: PaySim's 8,213 frauds in 6,362,620 transactions is 0.129%.
FRAUD_RATE = 0.0013

#: (figure, value in the sources, value here, source): printed in the README and in every document.
CALIBRATION: tuple[tuple[str, str, str, str], ...] = (
    ("fraud rate by count", "0.129% (8,213 of 6,362,620)", "0.13% (fraud_rate)", "PaySim"),
    ("fraud rate by count", "1.21% (7,200 of 594,643)", "not used: card fraud is well under 1%", "BankSim"),
    ("mean amount, all", "37.89", "about 38 before fraud (category means below)", "BankSim"),
    ("mean fraud amount / mean amount", "14x (530.93 / 37.89)", "4x the category mean (account takeover)", "BankSim"),
    ("mean fraud amount / mean amount", "8x (1,467,967 / 179,862)", "-", "PaySim"),
    ("fraud only in some transaction types", "TRANSFER and CASH_OUT only", "online and new merchants", "PaySim"),
    ("category shares and means", "transportation 85% at 26.96 ... travel 0.12% at 2,250", "as published", "BankSim"),
    (
        "fraud concentrated in categories",
        "leisure 95%, travel 79%, sports and toys 50%",
        "fraud draws categories by the published fraud counts",
        "BankSim",
    ),  # fmt: skip
    ("customers by age group", "26-35: 31.5%, 36-45: 24.7%, 46-55: 18.2%", "as published", "BankSim"),
    ("customers by gender", "F 54.8%, M 45.2% (enterprise, unknown pooled)", "as published", "BankSim"),
    ("time unit and span", "1 step = 1 hour, 744 steps (30 days)", "continuous time, `days` (default 90)", "PaySim"),
    ("chargeback delay", "not in either source", "lognormal, median 21 days, 2-90 days", "assumption"),
    ("channels, hour of day, weekday", "not in either source", "see CHANNELS, HOURLY, WEEKLY", "assumption"),
)

SOURCES = {"PaySim": PAYSIM, "BankSim": BANKSIM}

_MICROS_PER_DAY = 86_400_000_000


def calibration_table() -> pd.DataFrame:
    """The calibration figures with their sources, as the README and documents show them."""
    table = pd.DataFrame(CALIBRATION, columns=["figure", "published", "generator", "source"])
    return table


def _draw_times(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    """Microseconds since the start, with the daily and weekly activity profiles."""
    day_weights = WEEKLY[np.arange(days) % 7]
    day = rng.choice(days, n, p=day_weights / day_weights.sum())
    hour = rng.choice(24, n, p=HOURLY / HOURLY.sum())
    within = rng.integers(0, 3_600_000_000, n)
    return day.astype("int64") * _MICROS_PER_DAY + hour.astype("int64") * 3_600_000_000 + within


def _lognormal(rng: np.random.Generator, mean: np.ndarray, sigma: float) -> np.ndarray:
    """Lognormal draws with the given means (mu = log(mean) - sigma^2 / 2)."""
    return rng.lognormal(np.log(mean) - sigma**2 / 2, sigma)


def synthetic_card_transactions(
    n_transactions: int,
    seed: int = 0,
    *,
    days: int = 90,
    fraud_rate: float = FRAUD_RATE,
    start: str = "2026-01-01",
) -> pd.DataFrame:
    """``n_transactions`` card transactions over ``days`` days, sorted by time, about ``fraud_rate`` of them fraud.

    Columns: ``transaction_id``, ``event_time`` (UTC, microseconds, unique per card), ``customer_id``,
    ``card_id``, ``merchant_id``, ``category``, ``channel``, ``amount``, ``new_device`` (1 when the device was
    never seen on the card), ``customer_age``, ``customer_sex``, ``is_fraud``, ``fraud_pattern``
    (``none``, ``account_takeover``, ``card_testing``, ``merchant_compromise``) and ``chargeback_time`` (when
    the fraud label arrives; empty for genuine transactions).
    """
    if n_transactions < 100:
        raise ValueError(f"n_transactions: at least 100, got {n_transactions}")
    if days < 7:
        raise ValueError(f"days: at least 7, got {days}")
    if not 0.0 < fraud_rate < 0.05:
        raise ValueError(f"fraud_rate: between 0 and 0.05, got {fraud_rate}")
    rng = np.random.default_rng(seed)
    names = np.array([c[0] for c in CATEGORIES])
    shares = np.array([c[1] for c in CATEGORIES])
    means = np.array([c[2] for c in CATEGORIES])
    fraud_weight = shares * np.array([c[3] for c in CATEGORIES])

    # people, cards and merchants
    n_customers = max(50, n_transactions // (days // 2 + 1))
    ages_band = rng.choice(len(AGE_BANDS), n_customers, p=[b[2] for b in AGE_BANDS] / np.sum([b[2] for b in AGE_BANDS]))
    lows, highs = np.array([b[0] for b in AGE_BANDS]), np.array([b[1] for b in AGE_BANDS])
    customer_age = rng.integers(lows[ages_band], highs[ages_band])
    customer_sex = np.where(rng.random(n_customers) < FEMALE_SHARE, "F", "M")
    cards_per_customer = 1 + (rng.random(n_customers) < 0.2)
    card_owner = np.repeat(np.arange(n_customers), cards_per_customer)
    n_cards = len(card_owner)
    activity = rng.gamma(2.0, 0.5, n_cards)  # some cards are used far more than others
    n_merchants = max(30, n_customers // 15)
    merchant_category = rng.choice(len(CATEGORIES), n_merchants, p=shares / shares.sum())
    # every category has at least one merchant
    merchant_category[: len(CATEGORIES)] = np.arange(len(CATEGORIES))
    by_category = [np.flatnonzero(merchant_category == k) for k in range(len(CATEGORIES))]

    n_fraud_target = max(3, int(round(n_transactions * fraud_rate)))
    n_genuine = n_transactions - n_fraud_target

    # genuine transactions
    card = rng.choice(n_cards, n_genuine, p=activity / activity.sum())
    category = rng.choice(len(CATEGORIES), n_genuine, p=shares / shares.sum())
    pick = rng.random(n_genuine)
    merchant = np.empty(n_genuine, dtype="int64")
    for k in range(len(CATEGORIES)):  # merchants of a category share its volume, a few large ones most of it
        rows = np.flatnonzero(category == k)
        pool = by_category[k]
        weights = 1.0 / np.arange(1, len(pool) + 1)
        merchant[rows] = pool[np.searchsorted(np.cumsum(weights) / weights.sum(), pick[rows], side="right").clip(
            0, len(pool) - 1)]  # fmt: skip
    amount = _lognormal(rng, means[category], 0.8)
    channel_names = sorted(CHANNELS)
    channel = rng.choice(len(channel_names), n_genuine, p=[CHANNELS[c] for c in channel_names])
    new_device = (rng.random(n_genuine) < 0.03).astype("int8")
    time = _draw_times(rng, n_genuine, days)
    pattern = np.zeros(n_genuine, dtype="int8")

    # fraud: bursts per pattern until the target count is reached
    parts = {"card": [card], "category": [category], "merchant": [merchant], "amount": [amount],
             "channel": [channel], "new_device": [new_device], "time": [time], "pattern": [pattern]}  # fmt: skip
    fraud_categories = fraud_weight / fraud_weight.sum()
    counts = {p: int(round(n_fraud_target * s)) for p, s in PATTERNS.items()}
    compromised = rng.choice(n_merchants, max(1, n_merchants // 100), replace=False)
    victims = iter(rng.choice(n_cards, n_fraud_target, p=activity / activity.sum()))  # at most one per fraud
    for code, (name, count) in enumerate(counts.items(), start=1):
        made = 0
        while made < count:
            size = {"account_takeover": rng.integers(2, 7), "card_testing": rng.integers(5, 16)}.get(
                name, rng.integers(1, 4)
            )
            size = int(min(size, count - made))
            victim = next(victims)
            begin = rng.integers(0, days * _MICROS_PER_DAY - 3_600_000_000)
            if name == "merchant_compromise":
                where = np.full(size, rng.choice(compromised))
                cats = merchant_category[where]
                value = _lognormal(rng, means[cats] * 2.0, 0.8)
                chan = np.full(size, channel_names.index("card_present"))
                device = np.zeros(size, dtype="int8")
                spread = 7 * _MICROS_PER_DAY
            else:
                # merchants of the fraud-heavy categories, which the card has almost surely never used
                cats = rng.choice(len(CATEGORIES), size, p=fraud_categories)
                where = np.array([rng.choice(by_category[k]) for k in cats])
                if name == "account_takeover":
                    value = _lognormal(rng, means[cats] * 4.0, 1.0)
                    device = (rng.random(size) < 0.6).astype("int8")
                else:
                    value = rng.uniform(0.5, 10.0, size)
                    device = (rng.random(size) < 0.2).astype("int8")
                chan = np.where(
                    rng.random(size) < 0.8, channel_names.index("online"), channel_names.index("contactless")
                )
                spread = 3_600_000_000 if name == "account_takeover" else 1_800_000_000
            offsets = np.sort(rng.integers(0, spread, size))
            for key, value_ in (("card", np.full(size, victim)), ("category", cats), ("merchant", where),
                                ("amount", value), ("channel", chan), ("new_device", device),
                                ("time", np.minimum(begin + offsets, days * _MICROS_PER_DAY - 1)),
                                ("pattern", np.full(size, code, dtype="int8"))):  # fmt: skip
                parts[key].append(value_)
            made += size

    columns = {key: np.concatenate(values) for key, values in parts.items()}
    # one timeline per card: equal times on a card are moved apart by a microsecond
    order = np.lexsort((columns["time"], columns["card"]))
    columns = {key: values[order] for key, values in columns.items()}
    t = columns["time"]
    position = np.arange(len(t))
    block_start = np.r_[0, np.flatnonzero(np.diff(columns["card"]) != 0) + 1]
    first = np.repeat(block_start, np.diff(np.r_[block_start, len(t)]))
    shifted = pd.Series(t - position).groupby(first).cummax().to_numpy() + position
    columns["time"] = np.maximum(t, shifted)

    is_fraud = (columns["pattern"] > 0).astype("int64")
    delay = (np.clip(rng.lognormal(np.log(21.0), 0.6, len(t)), 2.0, 90.0) * _MICROS_PER_DAY).astype("int64")
    origin = pd.Timestamp(start, tz="UTC").value // 1000
    chargeback = np.where(is_fraud == 1, origin + columns["time"] + delay, np.iinfo("int64").min)
    owner = card_owner[columns["card"]]
    by_time = np.lexsort((columns["card"], columns["time"]))
    frame = pd.DataFrame(
        {
            "transaction_id": np.arange(len(t), dtype="int64"),
            "event_time": pd.DatetimeIndex((origin + columns["time"][by_time]).astype("datetime64[us]"), tz="UTC"),
            "customer_id": owner[by_time].astype("int64"),
            "card_id": columns["card"][by_time].astype("int64"),
            "merchant_id": columns["merchant"][by_time].astype("int64"),
            "category": pd.Categorical.from_codes(columns["category"][by_time], categories=list(names)),
            "channel": pd.Categorical.from_codes(columns["channel"][by_time], categories=channel_names),
            "amount": np.maximum(np.round(columns["amount"][by_time], 2), 0.01),
            "new_device": columns["new_device"][by_time].astype("int64"),
            "customer_age": customer_age[owner][by_time].astype("int64"),
            "customer_sex": pd.Categorical.from_codes((customer_sex[owner][by_time] == "M").astype("int8"), ["F", "M"]),
            "is_fraud": is_fraud[by_time],
            "fraud_pattern": pd.Categorical.from_codes(columns["pattern"][by_time], ["none", *PATTERNS]),
            "chargeback_time": pd.DatetimeIndex(chargeback[by_time].astype("datetime64[us]"), tz="UTC"),
        }
    )
    return frame
