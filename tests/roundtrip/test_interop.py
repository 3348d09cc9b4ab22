"""Other tools read our files: pynapple (units, epochs, sweeps) and SpikeInterface's NWB sorting reader.

Each tool is compared with what pynwb reads from the same file, without this package. Tetrode sessions are
read with raw data (the shared tiny archive) and without it (``--no-raw``, the vehicle archive), since the
readers take the time base from the raw ``ElectricalSeries`` when there is one.
"""

from __future__ import annotations

import numpy as np
import pytest
from pynwb import NWBHDF5IO

pytestmark = pytest.mark.filterwarnings(
    # pynapple shortens an epoch that ends where the next starts by 1 us (its intervals may not touch)
    "ignore:Some starts and ends are equal:UserWarning"
)


def _one(archive, pattern: str):
    (path,) = sorted(archive.rglob(pattern))
    return path


@pytest.fixture(scope="module", params=["raw", "no-raw"])
def tetrode_file(request, tiny_archive, vehicle_archive):
    """The tetrode session's file with raw data, then without.

    Parameters
    ----------
    request
        Which one (``raw`` or ``no-raw``).
    tiny_archive
        The shared tiny archive (converted with raw data).
    vehicle_archive
        The tiny study with other metadata, converted ``--no-raw``.
    """
    archive = tiny_archive if request.param == "raw" else vehicle_archive
    return _one(archive, "*_ecephys.nwb")


@pytest.fixture(scope="module")
def pynwb_units(tetrode_file) -> dict:
    """What plain pynwb reads of the file: unit ids, names, spike times, curation labels, epochs.

    Parameters
    ----------
    tetrode_file
        The file.
    """
    with NWBHDF5IO(tetrode_file, "r", load_namespaces=True) as io:
        nwb = io.read()
        units = nwb.units
        return {
            "ids": [int(i) for i in units.id[:]],
            "names": [str(n) for n in units["unit_name"][:]],
            "spikes": [np.asarray(units.get_unit_spike_times(i)) for i in range(len(units))],
            "labels": [str(label) for label in units["curation_label"][:]],
            "epochs": nwb.epochs.to_dataframe(),
            "raw": "ElectricalSeries" in nwb.acquisition,
            "rate": nwb.acquisition["ElectricalSeries"].rate
            if "ElectricalSeries" in nwb.acquisition
            else 1 / units.resolution,
        }


def test_pynapple_reads_units_as_a_tsgroup(tetrode_file, pynwb_units):
    """pynapple's ``units`` is a TsGroup with pynwb's unit ids, spike times (so counts) and labels.

    Parameters
    ----------
    tetrode_file
        The file.
    pynwb_units
        What pynwb reads.
    """
    import pynapple as nap

    data = nap.load_file(str(tetrode_file))
    assert isinstance(data, nap.NWBFile)
    units = data["units"]
    assert isinstance(units, nap.TsGroup)
    assert list(units.keys()) == pynwb_units["ids"]
    assert [len(units[i]) for i in units] == [len(t) for t in pynwb_units["spikes"]]
    assert sum(len(t) for t in pynwb_units["spikes"]) > 0
    for uid, times in zip(pynwb_units["ids"], pynwb_units["spikes"], strict=True):
        np.testing.assert_array_equal(units[uid].t, times)
    assert units["curation_label"].tolist() == pynwb_units["labels"]
    assert ("ElectricalSeries" in data) == pynwb_units["raw"]


def test_pynapple_reads_epochs_as_an_intervalset(tetrode_file, pynwb_units):
    """pynapple's ``epochs`` is an IntervalSet with pynwb's starts, ends and tags (baseline, post-injection).

    Parameters
    ----------
    tetrode_file
        The file.
    pynwb_units
        What pynwb reads.
    """
    import pynapple as nap

    epochs = nap.load_file(str(tetrode_file))["epochs"]
    assert isinstance(epochs, nap.IntervalSet)
    expected = pynwb_units["epochs"]
    assert len(expected) == 2
    np.testing.assert_array_equal(epochs.start, expected["start_time"].to_numpy())
    np.testing.assert_allclose(epochs.end, expected["stop_time"].to_numpy(), rtol=0, atol=1.001e-6)
    tags = [list(t) for t in epochs["tags"]]
    assert tags == [list(t) for t in expected["tags"]]
    assert [t[0] for t in tags] == ["baseline", "post-injection"]


def test_pynapple_reads_each_sweep_of_a_slice_cell(tiny_archive):
    """pynapple reads every sweep of a slice cell (response and command) as a Tsd with pynwb's times and values.

    Parameters
    ----------
    tiny_archive
        The shared tiny archive.
    """
    import pynapple as nap

    path = sorted(tiny_archive.rglob("*_icephys.nwb"))[0]
    data = nap.load_file(str(path))
    with NWBHDF5IO(path, "r", load_namespaces=True) as io:
        nwb = io.read()
        series = {**nwb.acquisition, **nwb.stimulus}
        assert len(series) > 0
        for name, ts in series.items():
            tsd = data[name]
            assert isinstance(tsd, nap.Tsd), name
            # pynapple gives the stored values (pA, mV: the series' conversion is not applied)
            np.testing.assert_array_equal(tsd.values, ts.data[:], err_msg=name)
            times = ts.starting_time + np.arange(len(ts.data)) / ts.rate
            np.testing.assert_allclose(tsd.t, times, rtol=0, atol=1e-9, err_msg=name)


def test_spikeinterface_reads_the_sorting(tetrode_file, pynwb_units):
    """SpikeInterface's NWB sorting reader gives pynwb's units (by unit name), spike times and labels.

    With raw data the time base (30 kHz, start) comes from the named ElectricalSeries; without it from the
    Units table's ``resolution``.

    Parameters
    ----------
    tetrode_file
        The file.
    pynwb_units
        What pynwb reads.
    """
    from spikeinterface.extractors import read_nwb_sorting

    if pynwb_units["raw"]:
        sorting = read_nwb_sorting(tetrode_file, electrical_series_path="acquisition/ElectricalSeries")
    else:
        sorting = read_nwb_sorting(tetrode_file)
    rate = pynwb_units["rate"]
    assert sorting.get_sampling_frequency() == pytest.approx(rate, rel=1e-9) == 30000.0
    assert sorting.get_num_segments() == 1
    assert [str(u) for u in sorting.get_unit_ids()] == pynwb_units["names"]
    for name, times in zip(pynwb_units["names"], pynwb_units["spikes"], strict=True):
        np.testing.assert_array_equal(sorting.get_unit_spike_train(name, return_times=True), times)
        np.testing.assert_array_equal(sorting.get_unit_spike_train(name), np.round(times * rate).astype(int))
    assert sorting.get_property("curation_label").tolist() == pynwb_units["labels"]
