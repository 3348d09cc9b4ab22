"""Which nwb-ketamine version stored a file's analysis and with which parameters, as the detail views show it.

The catalog carries both for every row (``nwb_ketamine_version``, ``analysis_parameters``: see
:mod:`nwb_ketamine.archive.catalog_columns`); the file view reads them from the file itself
(:func:`nwb_ketamine.analysis.provenance.read_provenance`). These functions turn them into (field, value)
rows of a view's metadata table.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping

from nwb_ketamine.analysis.parameters import unit_of

#: How the views name each analysis.
ANALYSIS_LABELS = {"epsc": "EPSC analysis", "bursts": "burst detection", "units": "unit quality metrics"}


def parse_parameters(text) -> dict[str, dict[str, float]]:
    """The catalog's ``analysis_parameters`` JSON as analysis → {parameter: value} ({} for '' or bad text).

    Parameters
    ----------
    text
        The column's value (a JSON string, '' or NaN).

    Returns
    -------
    dict
    """
    if not isinstance(text, str) or not text:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {str(k): dict(v) for k, v in parsed.items() if isinstance(v, dict)}


def analysed_by(version) -> str:
    """'Analysis by nwb-ketamine X.Y.Z', or what to say when no version is stored.

    Parameters
    ----------
    version
        The ``nwb_ketamine_version`` of the row ('' or NaN when unknown).

    Returns
    -------
    str
    """
    if isinstance(version, str) and version:
        return f"Analysis by nwb-ketamine {version}"
    return "no nwb-ketamine version stored (a foreign file, or written before versions were recorded)"


def format_value(name: str, value) -> str:
    """One parameter as 'name = value unit'.

    Parameters
    ----------
    name
        The parameter's name (its unit is its suffix).
    value
        Its value.

    Returns
    -------
    str
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"{name} = {value}"
    shown = "nan" if math.isnan(number) else f"{number:g}"
    return f"{name} = {shown} {unit_of(name)}".rstrip()


def format_parameters(values: Mapping[str, object]) -> str:
    """The parameters of one analysis, '; '-joined in their stored order.

    Parameters
    ----------
    values
        Parameter → value.

    Returns
    -------
    str
    """
    return "; ".join(format_value(name, value) for name, value in values.items())


def analysis_fields(version, parameters: Mapping[str, Mapping[str, object]], analyses: Iterable[str]) -> list:
    """(field, value) rows: who stored the analysis, then one row of parameters per analysis in ``analyses``.

    Parameters
    ----------
    version
        The nwb-ketamine version ('' or NaN when unknown).
    parameters
        Analysis → {parameter: value} (:func:`parse_parameters`).
    analyses
        The analyses the view shows, in order; those not in ``parameters`` are left out.

    Returns
    -------
    list of (str, str)
    """
    rows = [("analysis", analysed_by(version))]
    for analysis in analyses:
        if parameters.get(analysis):
            label = ANALYSIS_LABELS.get(analysis, analysis)
            rows.append((f"parameters: {label}", format_parameters(parameters[analysis])))
    return rows


def row_fields(row: Mapping, analyses: Iterable[str]) -> list:
    """:func:`analysis_fields` of a catalog row (a row without the columns: no version, no parameters).

    Parameters
    ----------
    row
        A catalog row (cells or units).
    analyses
        The analyses the view shows.

    Returns
    -------
    list of (str, str)
    """
    parameters = parse_parameters(row.get("analysis_parameters", ""))
    return analysis_fields(row.get("nwb_ketamine_version", ""), parameters, analyses)
