"""Files from elsewhere in the catalog: classified by content, keyed by path; ours known by their marker."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from nwb_ketamine.archive.catalog import build_catalog, load_catalog
from nwb_ketamine.archive.catalog_foreign import is_ours
from nwb_ketamine.archive.catalog_read import read_nwb_file


def write_foreign_nwb(path: Path, *, electrodes=(), units: int = 0, identifier: str = "same-id") -> Path:
    """An NWB file written with plain pynwb, as another lab would: no drug_stress object, no analysis.

    Every file gets the same subject, session and identifier, and the electrodes the same names, so
    any key derived from that metadata would collide; only the path tells them apart.

    Parameters
    ----------
    path
        Where to write the file.
    electrodes
        Names of the intracellular electrodes to add.
    units
        Number of units to add.
    identifier
        The file's NWB identifier.
    """
    from datetime import UTC, datetime

    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.file import Subject
    from pynwb.icephys import VoltageClampSeries

    nwbfile = NWBFile(
        session_description="a recording from another lab",
        identifier=identifier,
        session_start_time=datetime(2020, 1, 1, tzinfo=UTC),
        session_id="1",
    )
    nwbfile.subject = Subject(subject_id="x1", species="Mus musculus")
    if electrodes:
        device = nwbfile.create_device("amplifier")
    for name, location in electrodes:
        electrode = nwbfile.create_icephys_electrode(
            name=name, description="patch pipette", device=device, location=location, cell_id=f"cell-{name}"
        )
        series = VoltageClampSeries(
            name=f"sweep_{name}", data=np.zeros(50), electrode=electrode, gain=1.0, rate=10_000.0, starting_time=0.0
        )
        nwbfile.add_intracellular_recording(electrode=electrode, response=series)
    if units:
        # A column named as one of ours but of another type: it must not break the Parquet column.
        nwbfile.add_unit_column("snr", "signal-to-noise, as the other lab wrote it")
        for i in range(units):
            nwbfile.add_unit(spike_times=np.arange(i + 1) * 0.1, snr="high")
    path.parent.mkdir(parents=True, exist_ok=True)
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return path


def test_foreign_files_are_classified_by_content_with_path_keys(archive_copy, tiny):
    """Foreign files are classified by content, with keys from their paths.

    Parameters
    ----------
    archive_copy
        A copy of the tiny archive that the test may change.
    tiny
        The tiny archive and its ground-truth folder.
    """
    # Names that claim icephys (DANDI's layout names files by content, so such names are common), but the
    # content decides: the "ttl" file holds no electrode at all.
    ttl = archive_copy / "sub-x1" / "sub-x1_ses-1_icephys.nwb"
    write_foreign_nwb(ttl)
    pair = [
        write_foreign_nwb(
            archive_copy / folder / "sub-x1_ses-1_icephys.nwb", electrodes=[("elec0", "CA1"), ("elec1", "LH")]
        )
        for folder in ("lab-a", "lab-b")
    ]
    spikes = write_foreign_nwb(archive_copy / "lab-a" / "sorted.nwb", units=3)
    result = build_catalog(archive_copy, progress=False)
    assert not result.failed and not result.duplicate_keys
    tables = load_catalog(archive_copy)
    sessions = tables["sessions"].set_index("file")
    rel = {p: p.relative_to(archive_copy).as_posix() for p in (ttl, *pair, spikes)}

    ttl_row = sessions.loc[rel[ttl]]
    assert ttl_row["modality"] == "other" and ttl_row["origin"] == "foreign" and ttl_row["n_cells"] == 0
    assert ttl_row["contents"] == "no data objects" and ttl_row["namespaces"].startswith("core ")
    assert (ttl_row["drug"], ttl_row["stress"], ttl_row["subject"]) == ("unknown", "unknown", "x1")

    cells = tables["cells"]
    foreign_cells = cells[cells["file"].isin([rel[p] for p in pair])]
    assert sorted(foreign_cells["cell_key"]) == sorted(
        f"{rel[p]}#/general/intracellular_ephys/{e}" for p in pair for e in ("elec0", "elec1")
    )
    assert cells["cell_key"].is_unique and not foreign_cells["has_analysis"].any()
    assert set(foreign_cells["region"]) == {"CA1", "LH"} and foreign_cells["nmda_amplitude_pa"].isna().all()
    for p in pair:
        row = sessions.loc[rel[p]]
        assert row["modality"] == "icephys" and row["n_cells"] == 2 and row["region"] == "CA1,LH"
        assert "intracellular electrodes: 2" in row["contents"] and "VoltageClampSeries" in row["contents"]

    units = tables["units"]
    foreign_units = units[units["file"] == rel[spikes]]
    assert list(foreign_units["unit_key"]) == [f"{rel[spikes]}#/units/{i}" for i in range(3)]
    assert list(foreign_units["unit_n_spikes"]) == [1, 2, 3] and foreign_units["snr"].isna().all()
    assert (foreign_units["drug"] == "unknown").all() and foreign_units["epoch"].eq("").all()
    assert sessions.loc[rel[spikes], "modality"] == "ecephys" and sessions.loc[rel[spikes], "n_units"] == 3
    assert not units.duplicated(["unit_key", "epoch"]).any()

    # Our own files: every row as in the catalog of the archive without the foreign files.
    ours = load_catalog(build_catalog(tiny[0], progress=False).out)
    for name, frame in tables.items():
        mine = frame[frame["file"].isin(ours[name]["file"])].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, ours[name], check_dtype=False)
    assert set(ours["sessions"]["origin"]) == {"nwb-ketamine"} and (ours["sessions"]["contents"] == "").all()

    # Keys are stable: a full rebuild gives the same ones.
    build_catalog(archive_copy, progress=False, full=True)
    again = load_catalog(archive_copy)
    assert list(again["cells"]["cell_key"]) == list(cells["cell_key"])
    assert list(again["units"]["unit_key"]) == list(units["unit_key"])


def test_our_files_are_recognised_by_their_marker_not_by_name(tiny, tmp_path):
    """Our files are recognised by their marker, not by their name.

    Parameters
    ----------
    tiny
        The tiny archive and its ground-truth folder.
    tmp_path
        A fresh temporary folder.
    """
    archive = tiny[0]
    for path in archive.glob("sub-*/*.nwb"):
        with h5py.File(path, "r") as f:
            assert is_ours(f), path
    renamed = tmp_path / "renamed.nwb"  # a name says nothing: our file under any name is ours
    shutil.copy(next(archive.glob("sub-*/*_icephys.nwb")), renamed)
    rows = read_nwb_file(renamed, "renamed.nwb")
    assert rows["sessions"][0]["origin"] == "nwb-ketamine" and rows["sessions"][0]["modality"] == "icephys"
    assert rows["cells"][0]["cell_key"].count("/") == 3 and rows["cells"][0]["has_analysis"]
    # Another file with a group at our marker's place but not our type stays foreign.
    other = write_foreign_nwb(tmp_path / "other.nwb")
    with h5py.File(other, "a") as f:
        f["general"].create_group("drug_stress").attrs["neurodata_type"] = "LabMetaData"
    with h5py.File(other, "r") as f:
        assert not is_ours(f)
    assert read_nwb_file(other, "other.nwb")["sessions"][0]["origin"] == "foreign"


def test_a_key_shared_by_several_files_is_reported(archive_copy):
    """A key shared by several files is reported.

    Parameters
    ----------
    archive_copy
        A copy of the tiny archive that the test may change.
    """
    original = next(archive_copy.glob("sub-*/*_icephys.nwb"))
    (archive_copy / "backup").mkdir()
    shutil.copy(original, archive_copy / "backup" / original.name)
    result = build_catalog(archive_copy, progress=False)
    key = load_catalog(archive_copy)["cells"].set_index("file").loc[f"backup/{original.name}", "cell_key"]
    assert result.duplicate_keys == {
        key: sorted([f"backup/{original.name}", original.relative_to(archive_copy).as_posix()])
    }
    assert "1 keys in several files" in str(result)
