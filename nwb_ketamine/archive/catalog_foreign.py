"""Files from elsewhere: telling our files from foreign ones by their content, and cataloguing a foreign file.

DANDI downloads and other tools' files copied into the archive are catalogued by what they contain, never
by their name or by what they lack. A file is *ours* (``origin`` 'nwb-ketamine') only when it carries the
positive marker every converter writes (``nwb_ketamine.nwbfile.new_nwbfile``): the ``DrugStressMetadata``
object of the ndx-drug-stress namespace at ``/general/drug_stress``. Any other file is 'foreign': its drug
and stress labels are 'unknown' (not 'none', which would claim that no drug was given), our analysis
tables are not looked for, and its keys are derived from its path in the archive (unique by construction)
instead of from metadata it may lack or share with another file:
``FILE#/general/intracellular_ephys/ELECTRODE`` for a cell, ``FILE#/units/ROW`` for a unit. Its
``contents`` column counts the data objects it holds by neurodata type (e.g. 'acquisition: 9 TimeSeries'),
so a file that is neither a cell nor a recording with units is still described in the sessions table.
"""

from __future__ import annotations

import math

import numpy as np

from nwb_ketamine import h5read, methods
from nwb_ketamine.archive.catalog_columns import (
    CELL_DISPLAY_COLUMNS,
    CELL_METHODS_COLUMNS,
    EPSC_CELL_COLUMNS,
    as_float,
    time_group,
)
from nwb_ketamine.filelayout import DRUG_STRESS_PATH, UNITS_PATH

#: The positive marker of a file written by this project: the object every converter writes, its
#: neurodata type and namespace (``nwb_ketamine.extension.NAMESPACE``; not imported, because that module
#: loads pynwb and the extension into every catalog worker, for one string).
OUR_MARKER_PATH = DRUG_STRESS_PATH[1:]
OUR_MARKER_TYPE = "DrugStressMetadata"
OUR_NAMESPACE = "ndx-drug-stress"
ORIGIN_OURS, ORIGIN_FOREIGN = "nwb-ketamine", "foreign"
#: Drug and stress labels of a foreign file: nothing in it says, so neither 'none' nor a guess.
UNKNOWN = "unknown"
#: Places whose children the ``contents`` column counts by neurodata type.
CONTENT_PLACES = ("acquisition", "stimulus/presentation", "stimulus/templates", "analysis", "intervals")


def is_ours(f) -> bool:
    """Whether an open NWB file was written by this project: it carries our marker (module docstring).

    A positive test on purpose: a file lacking something we write (an analysis table, a name suffix)
    may just be incomplete, while only our converters write this object in this namespace.

    Parameters
    ----------
    f
        The file (an open ``h5py.File``).

    Returns
    -------
    bool
    """
    marker = f.get(OUR_MARKER_PATH)
    return (
        marker is not None
        and h5read.type_of(marker) == OUR_MARKER_TYPE
        and h5read.text(marker.attrs.get("namespace", "")) == OUR_NAMESPACE
    )


def icephys_electrodes(f) -> list:
    """The ``IntracellularElectrode`` groups of a file, in name order (every patch-clamp series links one).

    Parameters
    ----------
    f
        The file (an open ``h5py.File``).

    Returns
    -------
    list of h5py.Group
    """
    icephys = f.get("general/intracellular_ephys")
    if icephys is None:
        return []
    return [icephys[name] for name in sorted(icephys) if h5read.type_of(icephys[name]) == "IntracellularElectrode"]


def has_ecephys(f) -> bool:
    """Whether a file holds extracellular data: a units table, an electrodes table or an electrode group.

    Parameters
    ----------
    f
        The file (an open ``h5py.File``).

    Returns
    -------
    bool
    """
    if "id" in f.get(UNITS_PATH[1:], {}):
        return True
    ecephys = f.get("general/extracellular_ephys")
    if ecephys is None:
        return False
    return "electrodes" in ecephys or any(h5read.type_of(g) == "ElectrodeGroup" for g in ecephys.values())


def _type_counts(group) -> str:
    """'2 ImageSeries, 1 TimeSeriesWithID (ndx-x)': the typed children of a group, most frequent first.

    Types of a namespace other than NWB's own carry it, so a reader sees which extension is needed.
    """
    if group is None or not hasattr(group, "values"):
        return ""
    counts: dict[str, int] = {}
    for child in group.values():
        kind = h5read.type_of(child)
        if not kind:
            continue
        namespace = h5read.text(child.attrs.get("namespace", ""))
        label = kind if namespace in ("", "core", "hdmf-common", "hdmf-experimental") else f"{kind} ({namespace})"
        counts[label] = counts.get(label, 0) + 1
    return ", ".join(f"{n} {label}" for label, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def contents(f) -> str:
    """What a foreign file holds, place by place: 'acquisition: 9 TimeSeries; electrode groups: 4; units: 12'.

    Only the group listings and the children's type attributes are read (no data), so it stays cheap over
    HTTP. Our own files are described by their cell and unit rows instead, and skip this: a slice file
    has hundreds of sweep series, each one more object header to fetch.

    Parameters
    ----------
    f
        The file (an open ``h5py.File``).

    Returns
    -------
    str
    """
    parts = []
    for place in CONTENT_PLACES:
        counts = _type_counts(f.get(place))
        if counts:
            parts.append(f"{place}: {counts}")
    processing = f.get("processing")
    for name in sorted(processing) if processing is not None else []:
        parts.append(f"processing/{name}: {_type_counts(processing[name]) or 'empty'}")
    electrodes = icephys_electrodes(f)
    if electrodes:
        parts.append(f"intracellular electrodes: {len(electrodes)}")
    ecephys = f.get("general/extracellular_ephys")
    groups = [g for g in ecephys.values() if h5read.type_of(g) == "ElectrodeGroup"] if ecephys is not None else []
    if groups:
        parts.append(f"electrode groups: {len(groups)}")
    units = f.get(UNITS_PATH[1:])
    if units is not None and "id" in units:
        parts.append(f"units: {len(units['id'])}")
    return "; ".join(parts) or "no data objects"


def namespaces(f) -> str:
    """The namespaces cached in the file and their versions ('core 2.5.0, ndx-testextension 0.1.0').

    Parameters
    ----------
    f
        The file (an open ``h5py.File``).

    Returns
    -------
    str
    """
    specs = f.get("specifications")
    if specs is None:
        return ""
    return ", ".join(f"{name} {','.join(sorted(specs[name]))}" for name in sorted(specs))


def cell_methods(f, electrode) -> dict:
    """The slice-methods columns of a cell (:data:`CELL_METHODS_COLUMNS`), from the file's text fields.

    Parameters
    ----------
    f
        The file (an open ``h5py.File``).
    electrode
        The cell's ``IntracellularElectrode`` group (None: none).

    Returns
    -------
    dict
    """
    general = f.get("general")
    row = dict(CELL_METHODS_COLUMNS)
    row.update(methods.read_slices(h5read.scalar(general, "slices")))
    row["internal_solution"] = methods.labelled(h5read.scalar(electrode, "description")).get(
        methods.INTERNAL_SOLUTION, ""
    )
    row["stimulation_site"] = methods.labelled(h5read.scalar(general, "stimulus")).get(  # stimulus_notes
        methods.STIMULATION_SITE, ""
    )
    return row


def _no_analysis(row: dict) -> None:
    """Fill the EPSC result columns of a cell row without our analysis tables."""
    for name in EPSC_CELL_COLUMNS:
        row[name] = "" if name == "qc_reasons" else (False if name == "accepted" else math.nan)
    for name in CELL_DISPLAY_COLUMNS:
        row[name] = math.nan
    row["has_analysis"] = False
    row["epsc_parameters"] = "{}"


def foreign_cell_rows(f, labels: dict, relpath: str) -> list[dict]:
    """One row per intracellular electrode of a foreign file, keyed by file and electrode path.

    A foreign file has neither our experimental-conditions columns nor our analysis, so a row holds only
    what the electrode says (location, slice, cell id); ``hours_since_injection`` stays unknown.

    Parameters
    ----------
    f
        The file (an open ``h5py.File``).
    labels
        The file's group labels (every row starts from them).
    relpath
        The file's path relative to the archive.

    Returns
    -------
    list of dict
    """
    rows = []
    for i, electrode in enumerate(icephys_electrodes(f)):
        row = dict(labels)
        location = h5read.scalar(electrode, "location")
        row.update(region=location, region_label=location, row=i, object_path=electrode.name)
        row.update(slice_id=str(h5read.scalar(electrode, "slice")), cell_id=str(h5read.scalar(electrode, "cell_id")))
        row["cell_key"] = f"{relpath}#{electrode.name}"
        row["time_group"] = time_group(math.nan)
        _no_analysis(row)
        row.update(cell_methods(f, electrode))
        rows.append(row)
    return rows


def foreign_unit_columns(units, columns: dict, n: int) -> dict:
    """The Units columns of a foreign file that the catalog's units table has a column for, with its types.

    Another tool may give a column of ours another meaning or type (a text ``snr``, a float id), and one
    such value would make the whole Parquet column unwritable, so only the known columns are kept and
    coerced; the spike count comes from the ragged index when the file has no ``n_spikes`` column.

    Parameters
    ----------
    units
        The file's ``/units`` group.
    columns
        Column name → its values, as read.
    n
        Number of units.

    Returns
    -------
    dict
        Column name → array of the catalog's type.
    """
    out = {}
    for name in ("unit_name", "curation_label", "brain_area"):
        if name in columns:
            out[name] = np.asarray([h5read.text(v) for v in columns[name]], dtype=object)
    for name in ("tetrode", "n_spikes", "firing_rate_hz", "isi_violations_fraction", "presence_ratio", "snr"):
        if name in columns:
            out[name] = np.asarray([as_float(v) for v in columns[name]], dtype=np.float64)
    if "n_spikes" not in out and "spike_times_index" in units and units["spike_times_index"].shape == (n,):
        ends = units["spike_times_index"][()].astype(np.int64)
        out["n_spikes"] = np.diff(np.concatenate([[0], ends]))
    return out
