"""Sorting-only sessions (no raw recording): tetrodes found by the rig's number, channel names and the
duration from the sorting's own files, the recording span [0, duration], spikes outside it refused, and
waveforms from the spike files stored in volts at their own rate."""

import math

import numpy as np
import pytest
from pynwb import NWBHDF5IO

from nwb_ketamine.converters.axona import read_axona
from nwb_ketamine.converters.registry import read_sorting
from nwb_ketamine.converters.sorted_units import SortedUnits, tetrode_index
from nwb_ketamine.converters.units import add_units
from nwb_ketamine.errors import ConversionError
from tests.sorting.conftest import nwbfile_with_electrodes, tetrode_session

BLOCK = np.dtype([("timestamp", ">u4"), ("samples", "i1", 50)])


def write_trial(folder, base="trial", spikes=None, duration=100, gains=None, names=None):
    """A DacqUSB tetrode-mode trial: <base>.set and, per tetrode number, <base>.<n> + <base>_<n>.cut.

    ``spikes`` maps tetrode number → (timestamps in 96 kHz ticks, cluster ids, peak count on channel b).
    """
    spikes = spikes or {}
    gains = gains or {}
    lines = [f"trial_date Monday, 15 Oct 2012\nduration {duration}\nADC_fullscale_mv 1500\n"]
    for k in range(64):
        lines.append(f"gain_ch_{k} {gains.get(k, 10000)}\nchanname_ch_{k} {(names or {}).get(k, '')}\n")
    (folder / f"{base}.set").write_text("".join(lines))
    for number, (ticks, clusters, peak) in spikes.items():
        n = len(ticks)
        head = (
            f"trial_date Monday, 15 Oct 2012\nduration {duration}       \nnum_chans 4\ntimebase 96000 hz\n"
            f"bytes_per_timestamp 4\nsamples_per_spike 50\nsample_rate 48000 hz\nbytes_per_sample 1\n"
            f"spike_format t,ch1,t,ch2,t,ch3,t,ch4\nnum_spikes {n}      \n"
        )
        records = np.zeros((n, 4), dtype=BLOCK)
        records["timestamp"] = np.asarray(ticks)[:, None]
        records["samples"][:, 1, 10] = peak
        data = head.encode() + b"data_start" + records.tobytes() + b"\r\ndata_end\r\n"
        (folder / f"{base}.{number}").write_bytes(data)
        cut = f"n_clusters: 3\nn_channels: 4\nExact_cut_for: {base} spikes: {n}\n" + " ".join(map(str, clusters))
        (folder / f"{base}_{number}.cut").write_text(cut + "\n")


def test_tetrode_index_by_number():
    session = tetrode_session([6, 8])
    assert tetrode_index(session, 6, "x.6") == 0 and tetrode_index(session, 8, "x.8") == 1
    assert tetrode_index(None, 8, "x.8") == 7  # no study file: numbered from 1 in file order
    with pytest.raises(ConversionError) as err:
        tetrode_index(session, 7, "trial.7")
    message = str(err.value)
    assert message.startswith("trial.7:") and "add a tetrode with number: 7 to tetrodes" in message
    assert "\n" not in message


def test_axona_tetrodes_6_and_8(tmp_path):
    """Only tetrodes 6 and 8: the files go to the study's tetrodes numbered 6 and 8 (indices 0 and 1), and
    each gets the gains and names of its own channels 20-23 and 28-31 in the .set."""
    gains = {21: 16000, 29: 8000}
    write_trial(
        tmp_path,
        spikes={6: ([96, 9600, 96_000], [0, 1, 1], 64), 8: ([192, 960_000], [2, 2], 32)},
        gains=gains,
        names={28: "LHb-8a"},
    )
    units = read_sorting(tmp_path / "trial.set", "axona", session=tetrode_session([6, 8]), sampling_rate_hz=None)
    assert units.ids == ["trial.6_0", "trial.6_1", "trial.8_2"] and units.tetrode == [0, 0, 1]
    assert units.labels == ["unsorted", "good", "good"]
    assert units.sampling_rate_hz == 96_000.0 and units.waveform_rate_hz == 48_000.0
    np.testing.assert_array_equal(units.spike_samples[1], [9600, 96_000])  # ticks kept exactly
    # 64 counts x 1500 mV x 1000 / (16000 x 128) = 46.875 uV; 32 x 1500000 / (8000 x 128) = 46.875 uV
    assert units.waveforms_mean_uv[1, 10, 1] == pytest.approx(46.875)
    assert units.waveforms_mean_uv[2, 10, 1] == pytest.approx(46.875)
    assert units.channel_names == {0: ["6a", "6b", "6c", "6d"], 1: ["LHb-8a", "8b", "8c", "8d"]}
    assert units.duration_s == 100.0 and units.reader.startswith("nwb_ketamine.converters.axona")
    assert {p.rsplit("/", 1)[1] for p in units.source_files} == {
        "trial.set",
        "trial.6",
        "trial_6.cut",
        "trial.8",
        "trial_8.cut",
    }
    with pytest.raises(ConversionError) as err:
        read_axona(tmp_path, session=tetrode_session([6]))
    assert "trial.8" in str(err.value) and "add a tetrode with number: 8 to tetrodes" in str(err.value)


def test_axona_folder_with_two_trials_is_refused(tmp_path):
    write_trial(tmp_path, base="a", spikes={1: ([96], [1], 10)})
    write_trial(tmp_path, base="b", spikes={1: ([96], [1], 10)})
    with pytest.raises(ConversionError) as err:
        read_axona(tmp_path)
    assert "a, b" in str(err.value) and ".set" in str(err.value) and "\n" not in str(err.value)
    assert read_axona(tmp_path / "b.set").ids == ["b.1_1"]


def test_add_units_without_raw_spans_the_stated_duration(tmp_path):
    write_trial(tmp_path, spikes={6: ([96_000, 960_000, 5_760_000, 9_504_000], [1, 1, 1, 1], 64)}, duration=100)
    session = tetrode_session([6])
    units = read_sorting(tmp_path / "trial.set", "axona", session=session, sampling_rate_hz=None)
    nwbfile, rows = nwbfile_with_electrodes(session)
    add_units(nwbfile, units, session=session, electrode_rows_of_tetrode=rows)
    path = tmp_path / "units.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    with NWBHDF5IO(path, "r") as io:
        f = io.read()
        table = f.units
        np.testing.assert_allclose(table["spike_times"][0], [1.0, 10.0, 60.0, 99.0])
        assert table["firing_rate_hz"][0] == pytest.approx(4 / 100.0)  # over the 100 s the header states
        assert table["presence_ratio"][0] == pytest.approx(2 / 2)  # bins [0, 60) and [60, 100)
        assert table["tetrode_number"][0] == 6
        assert table.waveform_rate == 48_000.0 and table.resolution == pytest.approx(1 / 96_000)
        # Waveforms from the spike file, in volts: 64 counts x 1500 mV x 1000 / (10000 x 128) = 75 uV
        assert np.asarray(table["waveform_mean"][0])[10, 1] == pytest.approx(75e-6)
        assert "from the spike files" in table.description and "axona" in table.description
        burst = f.processing["ecephys"]["burst_metrics"]
        assert list(burst["epoch"].data[:]) == ["recording"]
        assert (burst["start_s"].data[0], burst["stop_s"].data[0]) == (0.0, 100.0)


def test_spike_after_the_stated_duration_is_refused(tmp_path):
    write_trial(tmp_path, spikes={6: ([96_000, 9_700_000], [1, 1], 64)}, duration=100)  # 101.04 s
    session = tetrode_session([6])
    units = read_sorting(tmp_path / "trial.set", "axona", session=session, sampling_rate_hz=None)
    nwbfile, rows = nwbfile_with_electrodes(session)
    with pytest.raises(ConversionError) as err:
        add_units(nwbfile, units, session=session, electrode_rows_of_tetrode=rows)
    message = str(err.value)
    assert message.startswith(str(tmp_path / "trial.6")) and "100 s" in message and "sorting.path" in message
    assert "\n" not in message


def test_without_duration_the_span_covers_spikes_and_epochs():
    session = tetrode_session([1], epochs=[("baseline", 0.0, 50.0), ("post-injection", 50.0, 200.0)])
    units = SortedUnits(["u"], [np.array([10_000, 20_000])], 10_000.0, ["good"], [0])
    nwbfile, rows = nwbfile_with_electrodes(session)
    add_units(nwbfile, units, session=session, electrode_rows_of_tetrode=rows)
    assert nwbfile.units["firing_rate_hz"][0] == pytest.approx(2 / 200.0)
    assert "waveform_mean" not in nwbfile.units.colnames and math.isnan(nwbfile.units["snr"][0])


def test_sorted_units_checks_new_fields():
    with pytest.raises(ValueError, match="duration_s"):
        SortedUnits(["a"], [np.array([1])], 1.0, ["good"], [0], duration_s=0.0)
    with pytest.raises(ValueError, match="templates_description"):
        SortedUnits(["a"], [np.array([1])], 1.0, ["good"], [0], templates=np.zeros((1, 2, 4)))
