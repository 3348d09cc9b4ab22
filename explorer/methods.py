"""A methods paragraph written from what the files store: analysis parameters, sample sizes, statistics, version.

Design decisions:

- **Every number comes from the catalog.** The EPSC windows, holding potentials, decay fit and QC
  thresholds are the ``epsc`` parameters, the burst rule and the unit metrics the ``bursts`` and ``units``
  parameters of the files behind the rows (the catalog's ``analysis_parameters``, else its older
  ``epsc_parameters`` / ``burst_parameters`` columns); the n are counted from the rows; the version is the
  ``nwb_ketamine_version`` column. Only unit conversions (s → ms, V → mV, Ω → MΩ, fraction → %) are applied.
  A parameter whose value differs between the files is given as every value found, said so; a sentence
  whose parameters are not stored is left out, never filled with a default.
- **The methods metadata are optional.** The study's solutions, slice preparation, temperature,
  stimulation site and implant coordinates (catalog columns of :data:`CELL_METHODS_COLUMNS` and
  :data:`UNIT_METHODS_COLUMNS`) are used only when the column exists and holds a value for the rows.
- **Pure functions**: :func:`methods_markdown` takes DataFrames (the rows the compare view keeps, with
  their catalog columns and factor labels) and returns Markdown; the compare view shows it and offers it
  as a download (:meth:`~nwb_ketamine.explorer.compare.CompareView.methods_text`).
- The statistics are described as each view computes them: the compare view's
  (:mod:`~nwb_ketamine.explorer.comparestats`: Mann–Whitney U and Welch's t on cells and on animal means,
  rank-biserial r and Hedges' g, Holm over the table; the mixed model and region × drug interaction only
  when the view fits them, :func:`statistics_methods`), the paired view's
  (:func:`~nwb_ketamine.analysis.paired.paired_table`, :func:`paired_statistics_methods`) and the time
  course's (:mod:`~nwb_ketamine.explorer.timecoursestats`, :func:`timecourse_statistics_methods`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from nwb_ketamine.explorer.analysisinfo import parse_parameters
from nwb_ketamine.explorer.comparebursting import RULES
from nwb_ketamine.explorer.factors import BASELINE_EPOCH, DEFAULT_EPOCH, FACTORS, accepted_source, factor_rows
from nwb_ketamine.explorer.timecoursestats import CONFIDENCE, N_RESAMPLES, SEED

#: Methods metadata of slice cells (catalog columns of the cells table), when the catalog has them.
CELL_METHODS_COLUMNS = ("internal_solution", "slice_thickness_um", "slice_preparation", "recording_solution",
                        "recording_temperature_c", "stimulation_site")  # fmt: skip
#: Methods metadata of in vivo units (catalog columns of the units table), when the catalog has them.
UNIT_METHODS_COLUMNS = ("implant_ap_mm", "implant_ml_mm", "implant_dv_mm", "implant_atlas")
#: Older catalog columns holding one analysis' parameters as JSON {parameter: value}.
LEGACY_COLUMNS = {"epsc": "epsc_parameters", "bursts": "burst_parameters"}
#: The catalog's key column of each table.
KEYS = {"cells": "cell_key", "units": "unit_key"}


class _Missing(KeyError):
    """A parameter a sentence needs is not stored for these rows: the sentence is left out."""


def number(value: float) -> str:
    """A value as a reader writes it: up to 4 significant digits, no float noise ('0.01', '25', '1e+03').

    Parameters
    ----------
    value
        The number.

    Returns
    -------
    str
    """
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    return f"{float(f'{value:.4g}'):g}"


class StoredValues:
    """The distinct stored values of each parameter of one analysis over some catalog rows.

    Parameters
    ----------
    values
        Parameter → its distinct values, sorted.
    """

    def __init__(self, values: Mapping[str, Sequence[float]]):
        self.values = {k: list(v) for k, v in values.items()}

    def __bool__(self) -> bool:
        return bool(self.values)

    def get(self, name: str) -> float:
        """The value of ``name`` (the first when the files differ; :class:`_Missing` when not stored).

        Parameters
        ----------
        name
            The parameter.

        Returns
        -------
        float
        """
        if not self.values.get(name):
            raise _Missing(name)
        return self.values[name][0]

    def text(self, name: str, scale: float = 1.0, unit: str = "", signed: bool = False) -> str:
        """The parameter as text in a unit: '10 ms', or '10 ms or 20 ms (differs between files)'.

        Parameters
        ----------
        name
            The parameter.
        scale
            Factor from the stored SI value to ``unit``.
        unit
            The unit written after the number.
        signed
            Write a '+' before a positive value (holding potentials: '+40 mV').

        Returns
        -------
        str
        """
        self.get(name)
        plus = "+" if signed else ""
        shown = [f"{plus if v > 0 else ''}{number(v * scale)}{' ' + unit if unit else ''}" for v in self.values[name]]
        return shown[0] if len(shown) == 1 else " or ".join(shown) + " (differs between files)"


def stored_parameters(rows: pd.DataFrame, analysis: str) -> StoredValues:
    """The parameters of ``analysis`` stored with the files of ``rows`` (each file once).

    Parameters
    ----------
    rows
        Catalog rows with ``analysis_parameters`` (or the older per-analysis JSON column) and ``file``.
    analysis
        'epsc', 'bursts' or 'units'.

    Returns
    -------
    StoredValues
    """
    if rows.empty:
        return StoredValues({})
    per_file = rows.drop_duplicates("file") if "file" in rows else rows
    found: dict[str, set[float]] = {}
    for _, row in per_file.iterrows():
        values = parse_parameters(row.get("analysis_parameters", "")).get(analysis)
        legacy = LEGACY_COLUMNS.get(analysis)
        if values is None and legacy is not None and isinstance(row.get(legacy), str):
            try:
                values = json.loads(row[legacy]) or None
            except ValueError:
                values = None
        for name, value in (values or {}).items():
            try:
                number_ = float(value)
            except (TypeError, ValueError):
                continue
            if math.isfinite(number_):
                found.setdefault(str(name), set()).add(number_)
    return StoredValues({name: sorted(v) for name, v in found.items()})


def _present(rows: pd.DataFrame, column: str) -> list:
    """The distinct non-empty values of ``column`` in ``rows`` ([] when the column is absent or empty)."""
    if column not in rows:
        return []
    out = []
    for value in rows[column]:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if isinstance(value, str) and not value.strip():
            continue
        if value not in out:
            out.append(value)
    return out


def _listed(values: list, unit: str = "") -> str:
    """Values joined by ' / ' (numbers as :func:`number`), with ``unit``."""
    shown = [number(float(v)) if isinstance(v, (int, float, np.number)) else str(v).strip() for v in values]
    return " / ".join(f"{s} {unit}".strip() for s in shown)


def _sentences(*builders) -> list[str]:
    """The sentences whose parameters are all stored (a builder raising :class:`_Missing` is left out)."""
    out = []
    for build in builders:
        try:
            text = build()
        except _Missing:
            continue
        if text:
            out.append(text)
    return out


def slice_preparation(cells: pd.DataFrame) -> list[str]:
    """Sentences from the cells' methods metadata columns (none when the catalog lacks them).

    Parameters
    ----------
    cells
        Catalog rows of cells.

    Returns
    -------
    list of str
    """
    out = []
    thickness, preparation = _present(cells, "slice_thickness_um"), _present(cells, "slice_preparation")
    if thickness or preparation:
        text = f"Slices{' ' + _listed(thickness, 'µm') + ' thick' if thickness else ''} were prepared"
        out.append(text + (f" ({_listed(preparation)})." if preparation else "."))
    solution, temperature = _present(cells, "recording_solution"), _present(cells, "recording_temperature_c")
    if solution or temperature:
        text = "Recordings were made" + (f" in {_listed(solution)}" if solution else "")
        out.append(text + (f" at {_listed(temperature, '°C')}." if temperature else "."))
    if internal := _present(cells, "internal_solution"):
        out.append(f"The internal solution was {_listed(internal)}.")
    if site := _present(cells, "stimulation_site"):
        out.append(f"EPSCs were evoked by extracellular stimulation in {_listed(site)}.")
    return out


def epsc_methods(p: StoredValues) -> list[str]:
    """Sentences on the EPSC measures, decay fit and QC from the stored ``epsc`` parameters.

    Parameters
    ----------
    p
        The stored EPSC parameters.

    Returns
    -------
    list of str
    """
    ms, mv = 1e3, 1e3
    return _sentences(
        lambda: (
            f"AMPAR-EPSCs were recorded at {p.text('ampa_holding_v', mv, 'mV', signed=True)} and NMDAR-EPSCs at "
            f"{p.text('nmda_holding_v', mv, 'mV', signed=True)} (a sweep within "
            f"{p.text('holding_tolerance_v', mv, 'mV')} of a holding potential counted as that kind), the stimulus "
            f"{p.text('stimulus_time_s', ms, 'ms')} after "
            "the start of each sweep."
        ),
        lambda: (
            f"The baseline was the mean current over the {p.text('baseline_window_s', ms, 'ms')} before the "
            f"stimulus; after {p.text('artefact_blanking_s', ms, 'ms')} of artefact blanking, the AMPAR-EPSC peak "
            f"was searched up to {p.text('ampa_peak_end_s', ms, 'ms')} and the NMDAR-EPSC peak up to "
            f"{p.text('nmda_peak_end_s', ms, 'ms')} after the stimulus, on the current smoothed by moving "
            f"averages of {p.text('ampa_peak_smoothing_s', ms, 'ms')} (AMPA) and "
            f"{p.text('nmda_peak_smoothing_s', ms, 'ms')} (NMDA)."
        ),
        lambda: (
            f"The NMDAR-EPSC was also measured at a fixed latency, as the mean over "
            f"{p.text('latency_window_s', ms, 'ms')} centred {p.text('nmda_latency_s', ms, 'ms')} after the "
            "stimulus."
        ),
        lambda: (
            f"Decay time constants were fitted from the first sample below "
            f"{p.text('decay_fit_start_fraction', 100, '%')} to the first below "
            f"{p.text('decay_fit_end_fraction', 100, '%')} of the peak (AMPA within "
            f"{p.text('ampa_decay_end_s', ms, 'ms')}, NMDA within {p.text('nmda_decay_end_s', ms, 'ms')} of the "
            f"stimulus; at least {p.text('min_decay_fit_points')} samples), with one exponential, and with two "
            f"where the single fit's residuals curved (p < {p.text('decay_biexp_screen_alpha')}), the F-test "
            f"favoured two components (p < {p.text('decay_biexp_alpha')}), the slow τ was at least "
            f"{p.text('decay_biexp_min_tau_ratio')} times the fast τ and at most "
            f"{p.text('decay_biexp_max_tau_window_ratio')} times the fit window; the weighted τ is the "
            "amplitude-weighted mean of the two (else the single τ)."
        ),
        lambda: (
            f"Series and input resistance were measured from a {p.text('test_pulse_amplitude_v', mv, 'mV')}, "
            f"{p.text('test_pulse_duration_s', ms, 'ms')} voltage step "
            f"{p.text('test_pulse_start_s', ms, 'ms')} into each sweep (peak transient within "
            f"{p.text('test_pulse_peak_window_s', ms, 'ms')}, steady state over the last "
            f"{p.text('test_pulse_steady_state_window_s', ms, 'ms')})."
        ),
        lambda: (
            f"Sweeps were rejected when the series resistance exceeded {p.text('rs_max_ohm', 1e-6, 'MΩ')} or "
            f"changed by more than {p.text('rs_change_max', 100, '%')} from the cell's first sweep; a cell was "
            f"kept when every kind it was recorded in had at least {p.text('min_accepted_sweeps')} accepted "
            "sweeps."
        ),
    )


def implant_methods(units: pd.DataFrame) -> list[str]:
    """The implant coordinates from the units' methods metadata columns, per region (none without them).

    Parameters
    ----------
    units
        Catalog rows of units.

    Returns
    -------
    list of str
    """
    columns = [c for c in ("implant_ap_mm", "implant_ml_mm", "implant_dv_mm") if _present(units, c)]
    atlas = _present(units, "implant_atlas")
    if not columns:
        return [f"Implant coordinates refer to {_listed(atlas)}."] if atlas else []
    groups = units.groupby("region", sort=True) if "region" in units else [("", units)]
    targets = []
    for region, part in groups:
        coordinates = [f"{c.split('_')[1].upper()} {_listed(_present(part, c), 'mm')}" for c in columns
                       if _present(part, c)]  # fmt: skip
        if coordinates:
            targets.append(f"{region + ': ' if region else ''}{', '.join(coordinates)}")
    if not targets:
        return []
    return [f"Tetrodes were implanted at {'; '.join(targets)}{' (' + _listed(atlas) + ')' if atlas else ''}."]


def burst_methods(bursts: StoredValues, quality: StoredValues, raw_waveforms: bool = False) -> list[str]:
    """Sentences on the burst rule and the unit quality metrics from the stored parameters.

    Parameters
    ----------
    bursts
        The stored ``bursts`` parameters.
    quality
        The stored ``units`` parameters.
    raw_waveforms
        Whether some of the units' files hold raw data, from which the waveforms were cut with the
        ``units`` parameters (else the waveforms are the sorting's own, and their sentence is left out).

    Returns
    -------
    list of str
    """
    ms = 1e3
    return _sentences(
        lambda: (
            f"A burst started at a spike followed within {bursts.text('onset_isi_s', ms, 'ms')} by the next, after "
            f"at least {bursts.text('min_silence_s', ms, 'ms')} without spikes, continued while interspike "
            f"intervals were at most {bursts.text('end_isi_s', ms, 'ms')}, and had at least "
            f"{bursts.text('min_spikes')} spikes."
        ),
        lambda: (
            f"Refractory-period violations were interspike intervals shorter than "
            f"{quality.text('refractory_period_s', ms, 'ms')}; the presence ratio is the fraction of "
            f"{quality.text('presence_bin_s', 1, 's')} bins holding a spike."
        ),
        lambda: (
            f"Waveforms were averaged from the raw recordings over at most {quality.text('max_waveform_spikes')} "
            f"spikes per unit, from {quality.text('waveform_before_s', ms, 'ms')} before to "
            f"{quality.text('waveform_after_s', ms, 'ms')} after each spike."
            if raw_waveforms
            else ""
        ),
    )


def counts(rows: pd.DataFrame, table: str, groups: Sequence[str]) -> pd.DataFrame:
    """Distinct cells (units) and animals per group of ``groups`` (the ones ``rows`` has).

    Parameters
    ----------
    rows
        The rows (``key`` or the catalog key column, ``subject``).
    table
        'cells' or 'units'.
    groups
        The grouping factors.

    Returns
    -------
    pandas.DataFrame
        The group columns, ``n_<table>`` and ``n_animals``; one row 'all' without groups.
    """
    key = "key" if "key" in rows else KEYS[table]
    by = [g for g in dict.fromkeys(groups) if g in rows]
    if rows.empty:
        return pd.DataFrame(columns=[*by, f"n_{table}", "n_animals"])
    if not by:
        return pd.DataFrame({f"n_{table}": [rows[key].nunique()], "n_animals": [rows["subject"].nunique()]})
    grouped = rows.groupby(by, observed=True, sort=True)
    out = grouped[key].nunique().to_frame(f"n_{table}")
    out["n_animals"] = grouped["subject"].nunique()
    return out.reset_index()


def _counts_markdown(frame: pd.DataFrame, table: str) -> str:
    """A Markdown table of :func:`counts`."""
    groups = [c for c in frame.columns if c not in (f"n_{table}", "n_animals")]
    header = [FACTORS.get(g, g) for g in groups] + [table.capitalize(), "Animals"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)


def statistics_methods(
    contrast: str | None,
    control: str | None,
    within: Sequence[str],
    mixed_model: bool,
    table: str,
    bursting_rule: str | None = None,
) -> list[str]:
    """Sentences on the statistics of the compare view (:mod:`~nwb_ketamine.explorer.comparestats`).

    Parameters
    ----------
    contrast
        The factor whose levels are compared with the control (None: not stated).
    control
        Its control level.
    within
        The factors the comparisons are split by.
    mixed_model
        Whether the view fits the mixed model (and the region × drug interaction).
    table
        'cells' or 'units': the observations of the plotted measure.
    bursting_rule
        For a unit measure, the rule of the bursting-units table
        (:data:`~nwb_ketamine.explorer.comparebursting.RULES`); None: no such table.

    Returns
    -------
    list of str
    """
    what = "cell" if table == "cells" else "unit"
    out = []
    if contrast:
        split = f" within each {' × '.join(FACTORS.get(w, w).lower() for w in within)}" if within else ""
        against = f" with the control ({control})" if control else " with the control level"
        out.append(f"Each level of {FACTORS.get(contrast, contrast).lower()} was compared{against}{split}.")
    out.append(
        f"Comparisons used two-sided Mann–Whitney U tests (effect size: rank-biserial r) and Welch's t tests "
        f"(Hedges' g), once with each {what} as an observation and once with each animal's mean; p-values were "
        "adjusted over all the comparisons shown by the Holm–Bonferroni method."
    )
    if table == "units" and bursting_rule:
        out.append(
            f"A unit was counted as bursting in an epoch when {bursting_rule}; the fraction of bursting units was "
            "given with Wilson's 95 % score interval and compared with the control by two-sided Fisher's exact "
            "tests, Holm-adjusted over their own table."
        )
    if mixed_model:
        out.append(
            f"Linear mixed models (statsmodels MixedLM, REML) with the animal as a random intercept estimated each "
            f"difference with a Wald test, using every {what}; where two regions or more and two drugs or more were "
            "shown, a mixed model value ~ region × drug tested the interaction (does the drug act differently "
            "between regions)."
        )
    return out


def paired_statistics_methods(measure: str, groups: Sequence[str]) -> list[str]:
    """Sentences on the paired view's statistics (:func:`~nwb_ketamine.analysis.paired.paired_table`).

    Parameters
    ----------
    measure
        The measure compared, with its unit ('% spikes in bursts (%)').
    groups
        The factors the units are split by (one pair of tests per group).

    Returns
    -------
    list of str
    """
    split = f" within each {' × '.join(FACTORS.get(g, g).lower() for g in groups)}" if groups else ""
    return [
        f"Each unit's {measure} after the injection ({DEFAULT_EPOCH}) was paired with its own {BASELINE_EPOCH} "
        f"value; units without both epochs were left out.",
        f"The change was tested{split} by two-sided Wilcoxon signed-rank tests (zero differences dropped; effect "
        "size: matched-pairs rank-biserial r) and paired t tests (Cohen's d_z), once with each unit as an "
        "observation and once with each animal's mean before and after; the p-values are not adjusted for "
        "the number of groups.",
    ]


def timecourse_statistics_methods(table: str) -> list[str]:
    """Sentences on the time-course view's summary (:mod:`~nwb_ketamine.explorer.timecoursestats`).

    Parameters
    ----------
    table
        'cells' or 'units': the observations of the plotted measure.

    Returns
    -------
    list of str
    """
    what = "cells" if table == "cells" else "units"
    return [
        f"Each group (region × stress × time since injection × drug × dose) was summarised by the mean of its "
        f"animals' means over their {what}, with the {CONFIDENCE * 100:.0f} % t-interval over the animal means (n "
        "animals; none for a group of one animal).",
        "The fraction blocked, 1 − mean(drug) / mean(control), compared each drug group with the control of "
        f"the same region, stress and time since injection; its {CONFIDENCE * 100:.0f} % interval is a percentile "
        f"bootstrap over animals ({N_RESAMPLES} resamples of each side's animal means, seed {SEED}), left "
        "empty with fewer than two animals on a side. No significance tests are made in this view.",
    ]


def labelled_rows(source: pd.DataFrame, kept: pd.DataFrame) -> pd.DataFrame:
    """The catalog rows of ``kept`` with the factor labels as the view shows them.

    Parameters
    ----------
    source
        Catalog rows (:func:`~nwb_ketamine.explorer.factors.accepted_source`).
    kept
        Factor rows (:func:`~nwb_ketamine.explorer.factors.factor_rows`, row for row those of ``source``)
        the view keeps, with their index into ``source``.

    Returns
    -------
    pandas.DataFrame
        ``source``'s rows of ``kept``, its ``key``, ``subject`` and factors replacing the catalog's labels; index
        0..n-1.
    """
    frame = source.loc[kept.index].reset_index(drop=True)
    for column in ("key", "subject", *FACTORS):
        if column in kept:
            frame[column] = kept[column].to_numpy()
    return frame


def catalog_rows(store, table: str, accepted_only: bool, keys) -> pd.DataFrame:
    """:func:`labelled_rows` of the cells (units) named by ``keys``, every epoch of a unit.

    Parameters
    ----------
    store : ArchiveStore
        The catalog.
    table
        'cells' or 'units'.
    accepted_only
        The QC filter of the view.
    keys
        The cell (unit) keys the view shows.

    Returns
    -------
    pandas.DataFrame
    """
    rows = factor_rows(store, table, accepted_only)
    return labelled_rows(accepted_source(store, table, accepted_only), rows[rows["key"].isin(set(keys))])


def _has_raw(units: pd.DataFrame, sessions: pd.DataFrame | None) -> bool:
    """Whether a file of ``units`` holds raw series (the sessions table's ``n_raw_series``)."""
    if sessions is None or "n_raw_series" not in sessions or "file" not in units:
        return False
    raw = pd.to_numeric(sessions.loc[sessions["file"].isin(set(units["file"])), "n_raw_series"], errors="coerce")
    return bool((raw.fillna(0) > 0).any())


def software_methods(cells: pd.DataFrame, units: pd.DataFrame, sessions: pd.DataFrame | None) -> str:
    """The software sentence: the nwb-ketamine version(s) the files record, and the NWB core version(s).

    Parameters
    ----------
    cells, units
        The rows described.
    sessions
        The catalog's sessions (for the cached NWB namespaces), or None.

    Returns
    -------
    str
    """
    versions = []
    for rows in (cells, units):
        for value in _present(rows, "nwb_ketamine_version"):
            versions += [v.strip() for v in str(value).split(",") if v.strip() and v.strip() not in versions]
    files = set(cells.get("file", pd.Series(dtype=object))) | set(units.get("file", pd.Series(dtype=object)))
    cores = []
    if sessions is not None and "namespaces" in sessions and "file" in sessions:
        for text in sessions.loc[sessions["file"].isin(files), "namespaces"].astype(str):
            for item in text.split(","):
                parts = item.split()
                if len(parts) == 2 and parts[0] == "core" and parts[1] not in cores:
                    cores.append(parts[1])
    stored = f" in NWB (core {', '.join(sorted(cores))})" if cores else " in NWB"
    if versions:
        return f"Analysis by nwb-ketamine {', '.join(sorted(versions))}; data and results stored{stored}."
    return f"The files do not record the nwb-ketamine version of their analysis; data stored{stored}."


def methods_markdown(
    cells: pd.DataFrame,
    units: pd.DataFrame,
    *,
    groups: Sequence[str] = (),
    sessions: pd.DataFrame | None = None,
    contrast: str | None = None,
    control: str | None = None,
    within: Sequence[str] = (),
    mixed_model: bool = False,
    table: str = "cells",
    accepted_only: bool = True,
    filters: str = "",
    statistics: Sequence[str] | None = None,
) -> str:
    """The methods paragraph of ``cells`` and ``units`` as Markdown.

    Parameters
    ----------
    cells, units
        The rows described (catalog columns, with the factor labels as shown), e.g. the compare view's
        filtered rows; either may be empty.
    groups
        The factors the sample sizes are given by.
    sessions
        The catalog's sessions table (NWB core version), or None.
    contrast, control, within, mixed_model, table
        The statistics as the view computes them (:func:`statistics_methods`).
    accepted_only
        Whether only QC-accepted cells and 'good' units are included.
    filters
        The filters in force, as a sentence ('' for none).
    statistics
        The statistics sentences of a view other than compare (:func:`paired_statistics_methods`,
        :func:`timecourse_statistics_methods`); None: the compare view's (:func:`statistics_methods`).

    Returns
    -------
    str
    """
    parts = ["## Methods"]
    if not cells.empty:
        epsc = stored_parameters(cells, "epsc")
        body = slice_preparation(cells) + epsc_methods(epsc)
        if not epsc:
            body.append("The catalog stores no EPSC analysis parameters for these cells.")
        if accepted_only:
            body.append("Only cells that passed quality control are included.")
        parts.append("**Slice electrophysiology.** " + " ".join(body))
    if not units.empty:
        bursts, quality = stored_parameters(units, "bursts"), stored_parameters(units, "units")
        body = implant_methods(units) + burst_methods(bursts, quality, _has_raw(units, sessions))
        if not bursts:
            body.append("The catalog stores no burst parameters for these units.")
        if accepted_only:
            body.append("Only units curated as 'good' are included.")
        parts.append("**In vivo recordings.** " + " ".join(body))
    if statistics is None:
        rule = next((RULES[c] for c in RULES if c in units), None)  # the column comparebursting.bursting uses
        statistics = statistics_methods(contrast, control, within, mixed_model, table, rule)
    parts.append("**Statistics.** " + " ".join(statistics))
    blocks = []
    for name, rows in (("cells", cells), ("units", units)):
        if rows.empty:
            continue
        total = counts(rows, name, ())
        n, animals = int(total[f"n_{name}"].iloc[0]), int(total["n_animals"].iloc[0])
        line = f"{n} {name if n != 1 else name[:-1]} from {animals} animal{'s' if animals != 1 else ''}"
        by = [g for g in dict.fromkeys(groups) if g in rows]
        if by:
            line += f", by {', '.join(FACTORS.get(g, g).lower() for g in by)}:\n\n"
            line += _counts_markdown(counts(rows, name, by), name)
        blocks.append(line if by else line + ".")
    sample = "\n\n".join(blocks) or "No cells or units pass the filters."
    parts.append("**Sample sizes.** " + (filters + " " if filters else "") + sample)
    parts.append("**Software.** " + software_methods(cells, units, sessions))
    return "\n\n".join(parts) + "\n"
