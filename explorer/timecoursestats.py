"""The time-course view's summary: per group the animal means, their mean with a t-interval, the fraction blocked.

Design decisions:

- **The animal is the unit of the interval.** A group (region × stress × time group × drug × dose) is
  summarised by the mean of its animal means, and its 95 % confidence interval is the t-interval over
  those animal means (mean ± t(0.975, n − 1) · s / √n, n animals); a group of one animal has no interval.
  Cells of one animal are not independent, so an interval over cells would be too narrow.
- **Fraction blocked** = 1 − mean(drug) / mean(matched control), both means of animal means, where the
  matched control is the control drug (:func:`~nwb_ketamine.explorer.factors.control_level`) with the
  same region, stress and time group (:data:`~nwb_ketamine.explorer.factors.MATCHED_WITHIN`; every dose,
  i.e. volume, of the vehicle). Its 95 % interval is a **percentile bootstrap over animals**: the drug's
  and the control's animal means are resampled with replacement, independently,
  :data:`N_RESAMPLES` times, from a generator seeded with :data:`SEED` afresh for every group, so a
  group's interval does not depend on which other groups the filters keep. The bootstrap needs no
  normal approximation of a ratio, which the delta method does and which is poor when the control has
  few animals. It needs two animals on each side; with fewer the interval is left empty and said so.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from nwb_ketamine.analysis.group_tables import animal_means
from nwb_ketamine.explorer.factors import MATCHED_WITHIN

#: The factors that make a group of the time course.
GROUPS = ("region", "stress", "time_group", "drug", "dose")
CONFIDENCE = 0.95
#: Bootstrap resamples of the fraction blocked, and the seed of each group's generator.
N_RESAMPLES = 2000
SEED = 0
SUMMARY_COLUMNS = [*GROUPS, "hours", "dose_value", "dose_unit", "n_cells", "n_animals", "mean", "ci_low", "ci_high",
                   "control", "fraction_blocked", "fb_ci_low", "fb_ci_high", "note"]  # fmt: skip


def t_interval(values, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """The mean of ``values`` and its t-interval (NaN bounds with fewer than two values).

    Parameters
    ----------
    values : array-like of float
        Independent observations (here, animal means).
    confidence : float
        The interval's coverage.

    Returns
    -------
    mean, low, high : float
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.nan, np.nan, np.nan
    mean = float(v.mean())
    if v.size < 2:
        return mean, np.nan, np.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, v.size - 1)) * float(v.std(ddof=1)) / np.sqrt(v.size)
    return mean, mean - half, mean + half


def fraction_blocked(
    treated, control, n_resamples: int = N_RESAMPLES, seed: int = SEED, confidence: float = CONFIDENCE
) -> tuple[float, float, float]:
    """1 − mean(treated) / mean(control) and its percentile-bootstrap interval over the two sets of animals.

    Parameters
    ----------
    treated, control : array-like of float
        The animal means of the drug group and of its matched control.
    n_resamples : int
        Bootstrap resamples.
    seed : int
        Seed of the resampling generator.
    confidence : float
        The interval's coverage.

    Returns
    -------
    estimate, low, high : float
        NaN estimate when either side is empty or the control mean is 0; NaN bounds when either side has
        fewer than two animals.
    """
    t, c = np.asarray(treated, dtype=float), np.asarray(control, dtype=float)
    t, c = t[np.isfinite(t)], c[np.isfinite(c)]
    if t.size == 0 or c.size == 0 or c.mean() == 0:
        return np.nan, np.nan, np.nan
    estimate = float(1.0 - t.mean() / c.mean())
    if t.size < 2 or c.size < 2:
        return estimate, np.nan, np.nan
    rng = np.random.default_rng(seed)
    t_means = t[rng.integers(0, t.size, (n_resamples, t.size))].mean(axis=1)
    c_means = c[rng.integers(0, c.size, (n_resamples, c.size))].mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        resampled = 1.0 - t_means / c_means
    resampled = resampled[np.isfinite(resampled)]
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return estimate, float(low), float(high)


def summary_table(data: pd.DataFrame, value: str, control: str | None, groups: Sequence[str] = GROUPS) -> pd.DataFrame:
    """One row per group: n cells and animals, the mean of animal means with its interval, the fraction blocked.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per cell (or unit in one time group): ``key``, ``subject``, ``value`` and ``groups``;
        ``hours_since_injection``, ``dose_value`` and ``dose_unit`` when present.
    value : str
        The measure's column.
    control : str or None
        The control drug level (its groups get no fraction blocked).
    groups : sequence of str
        The group columns (must include ``drug`` and :data:`MATCHED_WITHIN`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SUMMARY_COLUMNS` (``control``: the matched control's drug level, '' for a control row).
    """
    groups = list(groups)
    if data.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    animals = animal_means(data, value, groups)
    by_group = {k: g[value].to_numpy() for k, g in animals.groupby(groups, sort=True)}
    matched = [groups.index(c) for c in MATCHED_WITHIN]
    drug = groups.index("drug")
    controls: dict[tuple, list[np.ndarray]] = {}
    for key, means in by_group.items():
        if key[drug] == control:
            controls.setdefault(tuple(key[i] for i in matched), []).append(means)
    grouped = data.groupby(groups, sort=True)
    rows = []
    for key, part in grouped:
        means = by_group[key]
        mean, low, high = t_interval(means)
        row = dict(zip(groups, key, strict=True))
        row.update(
            hours=float(part["hours_since_injection"].median()) if "hours_since_injection" in part else np.nan,
            dose_value=part["dose_value"].iloc[0] if "dose_value" in part else np.nan,
            dose_unit=part["dose_unit"].iloc[0] if "dose_unit" in part else "",
            n_cells=int(part["key"].nunique()), n_animals=int(part["subject"].nunique()),
            mean=mean, ci_low=low, ci_high=high, control="", fraction_blocked=np.nan, fb_ci_low=np.nan,
            fb_ci_high=np.nan,
        )  # fmt: skip
        notes = [] if means.size >= 2 else ["1 animal: no interval"]
        if key[drug] == control:
            notes.append("control")
        else:
            reference = controls.get(tuple(key[i] for i in matched))
            if reference is None:
                notes.append(f"no matched {control} group")
            else:
                control_means = np.concatenate(reference)
                row["control"] = control
                estimate, fb_low, fb_high = fraction_blocked(means, control_means)
                row.update(fraction_blocked=estimate, fb_ci_low=fb_low, fb_ci_high=fb_high)
                if np.isfinite(estimate) and not np.isfinite(fb_low):
                    notes.append("fraction blocked: fewer than 2 animals on a side, no interval")
        row["note"] = "; ".join(notes)
        rows.append(row)
    return pd.DataFrame(rows).reindex(columns=SUMMARY_COLUMNS)


def caption(n_resamples: int = N_RESAMPLES, seed: int = SEED) -> str:
    """The summary's caption: what each interval is.

    Parameters
    ----------
    n_resamples, seed : int
        The bootstrap's resamples and seed.

    Returns
    -------
    str
    """
    return (
        "Group mean: the mean of the animal means (◆); its 95 % CI is the t-interval over animals "
        "(mean ± t(0.975, n−1)·s/√n, n animals; none for one animal). Fraction blocked = 1 − mean(drug) / "
        "mean(matched control), the control of the same region, stress and time since injection; 95 % CI: "
        f"percentile bootstrap over animals ({n_resamples} resamples, seed {seed}, drug and control animals "
        "resampled independently)."
    )
