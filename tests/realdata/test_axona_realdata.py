"""The real Axona DacqUSB tetrode-mode session in ../shared/realdata/axona_hafting (tetrodes 6 and 8, Tint
cuts, no .bin): spike and cluster counts equal the MANIFEST, times within the 402 s the headers state,
waveforms in uV equal an independent decode of the bytes, channel names and duration from the files,
and the sorting-only Units table written from it.

neo 0.14.6's AxonaRawIO finds no signal stream and no spike channel in this session (it looks for the
tetrode files .1, .2, ... only up to the first missing number, and needs the .bin for signals), so
nwb_ketamine.converters.axona is the reader; the test pins neo's result so a neo that starts reading
these files is noticed and compared."""

import re
import struct

import numpy as np
import pytest
from pynwb import NWBHDF5IO

from nwb_ketamine.converters.registry import read_sorting
from nwb_ketamine.converters.units import add_units
from tests.conftest import sha256
from tests.sorting.conftest import nwbfile_with_electrodes, tetrode_session

FOLDER = "axona_hafting"
BASE = "DVH_2012101525"
MANIFEST = {
    "DVH_2012101525.6": "849d32ceeb1cb9e7875456d8a445c7bdf80f89ad4c780fbedae94b79a5d302db",
    "DVH_2012101525.8": "39f654679aecaa31fc6e0648f2d654eb143c048ef4ec845293c6e4ec242415a6",
    "DVH_2012101525.eeg": "86cc4a695616e08dd5972b33d501af133ee94e836893ca204bc352f9c3bcd9cc",
    "DVH_2012101525.pos": "c12f1cc7b2e8934deeafcec1536c2d6f15a0846e7a4bef0b2e290e9dc915de88",
    "DVH_2012101525.set": "325f3d77b6014dbb480b5aed3ae646d604edf03e9381bad265801a9ae15e1e63",
    "DVH_2012101525_6.cut": "21136bb852d59f7119de9add3b22cee48b6c29dcab750ca5e6962ae89843e7a8",
    "DVH_2012101525_6_summary.csv": "3e28056809648a36011c899e339f86bda4750d9e42a38a796dd223421b4bdeb1",
    "DVH_2012101525_8.cut": "620e8dc74269850fed9eb025a79f6420550d579479a9b22f37dde70b2807befe",
    "DVH_2012101525_8_summary.csv": "25fdb7c8c4043ccb61ee6b0da81a1763b97502b1e5d55d507119de1a9c3e0f43",
}
#: MANIFEST: tetrode → (header num_spikes, {cut cluster: spikes}).
COUNTS = {
    6: (3386, {0: 3030, 1: 356}),
    8: (10287, {0: 4718, 1: 119, 2: 2025, 3: 742, 4: 349, 5: 34, 6: 1470, 7: 830}),
}
DURATION_S = 402.0


@pytest.fixture(scope="module")
def folder():
    from tests.conftest import REALDATA

    path = REALDATA / FOLDER
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    for name, digest in MANIFEST.items():
        assert sha256(path / name) == digest, name
    return path


@pytest.fixture(scope="module")
def units(folder):
    return read_sorting(folder / f"{BASE}.set", "axona", session=tetrode_session([6, 8]), sampling_rate_hz=None)


def decode(path, k):
    """Spike k of a DacqUSB tetrode file, decoded with struct alone: (timestamp, 50 x 4 int8 samples)."""
    data = path.read_bytes()
    start = data.index(b"data_start") + len(b"data_start") + k * 4 * (4 + 50)
    stamps, samples = [], []
    for channel in range(4):
        offset = start + channel * 54
        stamps.append(struct.unpack(">I", data[offset : offset + 4])[0])
        samples.append(struct.unpack("50b", data[offset + 4 : offset + 54]))
    assert len(set(stamps)) == 1  # the four blocks of a spike carry one timestamp
    return stamps[0], np.array(samples, dtype=np.float64).T


def gain_of(set_text, channel):
    return float(re.search(rf"^gain_ch_{channel} (\d+)", set_text, re.M).group(1))


@pytest.mark.realdata
def test_counts_equal_the_manifest(units):
    for number, (total, clusters) in COUNTS.items():
        index = [6, 8].index(number)
        got = {
            int(uid.rsplit("_", 1)[1]): s.size
            for uid, s, t in zip(units.ids, units.spike_samples, units.tetrode, strict=True)
            if t == index
        }
        assert got == clusters, number
        assert sum(got.values()) == total
    labels = dict(zip(units.ids, units.labels, strict=True))
    assert labels[f"{BASE}.6_0"] == labels[f"{BASE}.8_0"] == "unsorted"  # Tint's cluster 0
    assert {labels[u] for u in units.ids if not u.endswith("_0")} == {"good"}


@pytest.mark.realdata
def test_times_duration_and_names_from_the_files(units, folder):
    assert units.duration_s == DURATION_S
    assert units.sampling_rate_hz == 96_000.0 and units.waveform_rate_hz == 48_000.0
    for samples in units.spike_samples:
        t = samples / units.sampling_rate_hz
        assert t.size and t[0] >= 0.0 and t[-1] <= DURATION_S
    # The .set names no channel (channame_ch_* empty): neo's Axona names, tetrode number + letter.
    assert units.channel_names == {0: ["6a", "6b", "6c", "6d"], 1: ["8a", "8b", "8c", "8d"]}
    assert sorted(p.rsplit("/", 1)[1] for p in units.source_files) == sorted(
        [f"{BASE}.set", f"{BASE}.6", f"{BASE}_6.cut", f"{BASE}.8", f"{BASE}_8.cut"]
    )
    # A few spikes decoded with struct: their timestamps are the unit's samples (96 kHz ticks).
    cut = (folder / f"{BASE}_8.cut").read_text()
    clusters = np.array(cut[cut.index("spikes: 10287") + len("spikes: 10287") :].split(), dtype=int)
    for k in (0, 1, 5000, 10286):
        stamp, _ = decode(folder / f"{BASE}.8", k)
        unit = units.ids.index(f"{BASE}.8_{clusters[k]}")
        assert stamp in units.spike_samples[unit]


@pytest.mark.realdata
def test_waveforms_in_uv_equal_an_independent_decode(units, folder):
    set_text = (folder / f"{BASE}.set").read_text(encoding="latin-1")
    fullscale = float(re.search(r"^ADC_fullscale_mv (\d+)", set_text, re.M).group(1))
    assert fullscale == 1500.0
    cut = (folder / f"{BASE}_8.cut").read_text()
    clusters = np.array(cut[cut.index("spikes: 10287") + len("spikes: 10287") :].split(), dtype=int)
    # Tetrode 8 is channels 28-31 of the .set (gain 9000): uV per count = 1500 x 1000 / (9000 x 128).
    scale = np.array([fullscale * 1000 / (gain_of(set_text, 28 + i) * 128) for i in range(4)])
    assert scale == pytest.approx([1.30208333] * 4)
    members = np.flatnonzero(clusters == 5)  # the 34 spikes of cluster 5
    decoded = np.stack([decode(folder / f"{BASE}.8", int(k))[1] * scale for k in members])
    unit = units.ids.index(f"{BASE}.8_5")
    np.testing.assert_allclose(units.waveforms_mean_uv[unit], decoded.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(units.waveforms_sd_uv[unit], decoded.std(axis=0, ddof=1), rtol=1e-12)
    # Plausible extracellular spikes: every cut cell peaks at 40-400 uV; int8 samples never exceed the
    # ADC range of +-128 counts.
    for i, uid in enumerate(units.ids):
        peak = np.abs(units.waveforms_mean_uv[i]).max()
        if not uid.endswith("_0"):
            assert 40.0 < peak < 400.0, uid
    assert np.abs(units.waveforms_mean_uv[units.tetrode.index(1) :]).max() <= 128 * scale.max()
    # Tetrode 6's fourth channel holds only zeros in this file (gain_ch_23 is set, the samples are 0).
    six = [i for i, t in enumerate(units.tetrode) if t == 0]
    assert np.all(units.waveforms_mean_uv[six][:, :, 3] == 0)


@pytest.mark.realdata
def test_sorting_only_units_table(units, tmp_path):
    session = tetrode_session([6, 8])
    nwbfile, rows = nwbfile_with_electrodes(session)
    add_units(nwbfile, units, session=session, electrode_rows_of_tetrode=rows)
    path = tmp_path / "axona.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    with NWBHDF5IO(path, "r") as io:
        table = io.read().units
        assert len(table) == 10 and sum(len(table["spike_times"][i]) for i in range(10)) == 3386 + 10287
        assert list(table["tetrode_number"][:]) == [6, 6, 8, 8, 8, 8, 8, 8, 8, 8]
        for i in range(10):
            t = np.asarray(table["spike_times"][i])
            assert t.min() >= 0.0 and t.max() <= DURATION_S
            assert table["firing_rate_hz"][i] == pytest.approx(t.size / DURATION_S)
            assert np.abs(np.asarray(table["waveform_mean"][i])).max() < 400e-6  # volts
        assert table.waveform_rate == 48_000.0


@pytest.mark.realdata
def test_neo_finds_nothing_here(folder):
    """Why our parser is the reader: neo 0.14.6 AxonaRawIO reports no stream and no spike channel."""
    rawio = pytest.importorskip("neo.rawio")
    reader = rawio.AxonaRawIO(str(folder / f"{BASE}.set"))
    reader.parse_header()
    if len(reader.header["spike_channels"]) == 0:
        assert len(reader.header["signal_streams"]) == 0
        return
    # A newer neo reads the tetrode files: then its spike counts must be the MANIFEST's.
    counts = sorted(reader.spike_count(0, 0, i) for i in range(len(reader.header["spike_channels"])))
    assert counts == sorted(total for total, _ in COUNTS.values())


@pytest.fixture(scope="module")
def archive(folder, tmp_path_factory):
    """The real Axona session converted as a study-file session through the CLI: (archive, nwb path, rc)."""
    from nwb_ketamine.cli import main
    from tests.conftest import write_invivo_study

    tmp = tmp_path_factory.mktemp("axona")
    session = {
        "session_id": "hafting",
        "start_time": "2012-10-15T12:00:00+00:00",
        "sorting": {"path": str(folder), "format": "axona"},
        "tetrodes": [{"number": 6, "region": "MEC"}, {"number": 8, "region": "MEC"}],
    }
    study = write_invivo_study(tmp, [session])
    assert main(["check", str(study)]) == 0
    assert main(["convert", str(study), str(tmp / "archive"), "--jobs", "1"]) == 0
    (path,) = (tmp / "archive").rglob("*_ecephys.nwb")
    return tmp / "archive", path


@pytest.mark.realdata
def test_sorting_only_session_converts_validates_and_opens(archive):
    from nwb_ketamine.cli import main
    from nwb_ketamine.explorer import unitread

    root, path = archive
    with NWBHDF5IO(path, "r") as io:
        nwb = io.read()
        assert not nwb.acquisition
        units = nwb.units.to_dataframe()
        names = list(nwb.electrodes["channel_name"][:])
        assert "Axona" in nwb.devices[next(iter(nwb.devices))].description
    assert sorted(units["n_spikes"]) == sorted(n for _, clusters in COUNTS.values() for n in clusters.values())
    assert set(units.loc[units["unit_name"].str.endswith("_0"), "curation_label"]) == {"unsorted"}
    assert len(names) == 8 and all(n.startswith(("6", "8")) for n in names)
    assert main(["validate", str(root), "--json", str(root / "report.json")]) == 0
    unit = unitread.unit_spikes(path, 1)
    assert unit["spike_times_s"].size == units["n_spikes"].iloc[1] and unit["recording_s"][1] == pytest.approx(402.0)
