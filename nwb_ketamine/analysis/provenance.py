"""Which version of nwb-ketamine stored an analysis, and with which parameters: the ``analysis_provenance`` table.

Every processing module we write (``icephys``, ``ecephys``) holds, besides its results and their parameter
tables (:mod:`nwb_ketamine.analysis.parameters`), an ``analysis_provenance`` table with one row per analysis
stored there: the tool (``nwb-ketamine``), its version (:data:`nwb_ketamine.__version__`), the analysis'
name, the objects holding its results and the name of its parameters table. The module's description
names the version too, for a reader of the file in any NWB viewer.

Design decisions:

- The parameters are referenced by table name, not copied as JSON text into a column: NWB Inspector reports
  a table column holding dictionaries as a best-practice violation (``check_table_values_for_dict``), and
  the parameter tables (one row per parameter, with unit and meaning) are the NWB way already. The catalog
  builds the JSON from those tables (``analysis_parameters`` column).
- No time stamp: the conversion's content is a function of its inputs and the version (issue 16), and the
  version is part of the file's identifier (:func:`nwb_ketamine.nwbfile.session_identifier`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from nwb_ketamine.filelayout import ANALYSIS_PROVENANCE, PROVENANCE_COLUMNS

if TYPE_CHECKING:  # pynwb is imported where a table is written: the catalog's h5py reader does without it
    from pynwb import NWBFile, ProcessingModule

TOOL = "nwb-ketamine"


def tool_version() -> str:
    """The installed nwb-ketamine's version (:data:`nwb_ketamine.__version__`).

    Returns
    -------
    str
    """
    from nwb_ketamine import __version__

    return __version__


def analysed_by() -> str:
    """'nwb-ketamine X.Y.Z': the words the module descriptions use.

    Returns
    -------
    str
    """
    return f"{TOOL} {tool_version()}"


def add_provenance(module: ProcessingModule, analysis: str, results: list[str], parameters: str) -> None:
    """Add one row for ``analysis`` to ``module``'s ``analysis_provenance`` table (created on first use).

    Parameters
    ----------
    module
        The processing module holding the results.
    analysis
        Its name (a key of :data:`nwb_ketamine.filelayout.ANALYSIS_PARAMETERS_PATHS`).
    results
        Names of the objects holding the results.
    parameters
        Name of the parameters table in ``module``.
    """
    from hdmf.common import DynamicTable

    table = module.data_interfaces.get(ANALYSIS_PROVENANCE)
    if table is None:
        table = DynamicTable(
            name=ANALYSIS_PROVENANCE,
            description="The software and version that computed each analysis stored in this processing module, "
            "and the table of its parameters.",
        )
        for column, meaning in PROVENANCE_COLUMNS.items():
            table.add_column(name=column, description=meaning)
        module.add(table)
    table.add_row(
        tool=TOOL, tool_version=tool_version(), analysis=analysis, results=", ".join(results), parameters=parameters
    )


def read_provenance(nwbfile: NWBFile) -> list[dict]:
    """The ``analysis_provenance`` rows of every processing module of a file read with pynwb, with parameters.

    Parameters
    ----------
    nwbfile
        An open NWB file.

    Returns
    -------
    list of dict
        One per analysis: ``module``, the :data:`~nwb_ketamine.filelayout.PROVENANCE_COLUMNS` and
        ``values`` (parameter name → value, from the table ``parameters`` names; {} when it is missing).
        Empty for a file without the table (a foreign file, or one written before it existed).
    """
    out = []
    for module_name, module in nwbfile.processing.items():
        table = module.data_interfaces.get(ANALYSIS_PROVENANCE)
        if table is None:
            continue
        for i in range(len(table)):
            row = {"module": module_name}
            row.update({column: str(table[column].data[i]) for column in PROVENANCE_COLUMNS if column in table})
            stored = module.data_interfaces.get(row.get("parameters", ""))
            values = {}
            if stored is not None and "parameter" in stored and "value" in stored:
                values = {
                    str(n): float(v) for n, v in zip(stored["parameter"].data[:], stored["value"].data[:], strict=True)
                }
            row["values"] = values
            out.append(row)
    return out


def parameters_json(parameters: dict[str, dict[str, float]]) -> str:
    """Compact JSON of analysis → {parameter: value}, in the given order ('' when there are none).

    Parameters
    ----------
    parameters
        Analysis name → its parameters.

    Returns
    -------
    str
    """
    if not parameters:
        return ""
    return json.dumps(parameters, separators=(",", ":"), allow_nan=True)
