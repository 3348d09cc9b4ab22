"""Parsers of spike files written here in the documented formats (no files written by Neuralynx, MClust,
Axona or Open Ephys software were available for .ntt, .t and Axona; .spikes is also checked on real files)."""

import struct

import numpy as np
import pytest

from nwb_ketamine.converters.axona import read_axona
from nwb_ketamine.converters.mclust import read_mclust, read_t_file
from nwb_ketamine.converters.ntt import HEADER_BYTES as NTT_HEADER
from nwb_ketamine.converters.ntt import RECORD, read_ntt
from nwb_ketamine.converters.openephys_spikes import read_openephys_spikes, record_dtype
from nwb_ketamine.errors import ConversionError
from tests.sorting.conftest import tetrode_session


def mclust_header(bits_line="as unsigned integer: uint32"):
    """The header MClust's WriteHeader writes (MClust 4 writes the same 'uint32' line for .t64 files)."""
    lines = [
        "%%BEGINHEADER",
        "% Program: matlab",
        "% MClust version: MClust 4.4",
        "% Date: 01-Jan-2024 12:00:00",
        "% Directory: C:\\data",
        "% T-file",
        "% Output from MClust",
        "% Time of spiking stored in timestamps (tenths of msecs)",
        f"% {bits_line}",
        "%%ENDHEADER",
    ]
    return ("\n".join(lines) + "\n").encode()


def write_t(path, ticks, header=True, bits=32):
    """An MClust cluster file as MClust writes it: header, then big-endian uint32 (MClust 3 .t) or uint64
    (MClust 4 .t64) times in 0.1 ms ticks (WriteTfiles: uint32/uint64(seconds x 10000), fopen 'b')."""
    head = mclust_header() if header else b"% no header end\n"
    dtype = ">u4" if bits == 32 else ">u8"
    path.write_bytes(head + np.asarray(ticks, dtype=dtype).tobytes())


def test_mclust(tmp_path):
    write_t(tmp_path / "TT2_01.t", [10, 25, 1000])
    write_t(tmp_path / "TT4_03.t", [5])
    units = read_mclust(tmp_path, sampling_rate_hz=30_000.0)
    assert units.ids == ["TT2_01", "TT4_03"] and units.tetrode == [1, 3] and units.labels == ["good", "good"]
    np.testing.assert_array_equal(units.spike_samples[0], [30, 75, 3000])  # 100 us ticks at 30 kHz
    assert "32-bit" in units.reader and units.duration_s is None


def test_mclust_32_and_64_bit(tmp_path):
    """MClust 3 .t (uint32) and MClust 4 .t64 (uint64) of the same times read the same; a 64-bit file
    with a .t name (BNT reports them) is detected; ._t clusters are 'mua'."""
    seconds = np.array([1.5, 2.25, 3000.0001, 7200.5])  # up to 2 h: ticks beyond 2**16
    ticks = np.rint(seconds * 10_000).astype(np.uint64)
    write_t(tmp_path / "TT6_01.t", ticks, bits=32)
    write_t(tmp_path / "TT6_02.t64", ticks, bits=64)
    write_t(tmp_path / "TT6_03.t", ticks, bits=64)  # 64-bit content, 32-bit name
    write_t(tmp_path / "TT6_04._t", ticks[:2], bits=32)
    assert read_t_file(tmp_path / "TT6_01.t")[1] == 32 and read_t_file(tmp_path / "TT6_02.t64")[1] == 64
    assert read_t_file(tmp_path / "TT6_03.t")[1] == 64
    units = read_mclust(tmp_path, session=tetrode_session([6, 8]))  # no raw rate: MClust's 10 kHz ticks
    assert units.ids == ["TT6_01", "TT6_02", "TT6_03", "TT6_04_t"]
    assert units.labels == ["good", "good", "good", "mua"] and units.tetrode == [0, 0, 0, 0]
    assert units.sampling_rate_hz == 10_000.0 and "32-bit and 64-bit" in units.reader
    for samples in units.spike_samples[:3]:
        np.testing.assert_array_equal(samples, ticks.astype(np.int64))
    # One 64-bit spike in a .t file reads as one spike, not as two 32-bit words (0 and the time).
    write_t(tmp_path / "one.t", ticks[-1:], bits=64)
    np.testing.assert_array_equal(read_t_file(tmp_path / "one.t")[0], ticks[-1:])


def test_mclust_refusals(tmp_path):
    write_t(tmp_path / "TT1_01.t", [30, 20, 10])  # not sorted in either width
    with pytest.raises(ConversionError, match="not sorted"):
        read_t_file(tmp_path / "TT1_01.t")
    (tmp_path / "TT1_02.t64").write_bytes(mclust_header() + b"\0" * 12)
    with pytest.raises(ConversionError, match="whole uint64"):
        read_t_file(tmp_path / "TT1_02.t64")
    write_t(tmp_path / "TT1_03.raw64", [1, 2], bits=64)
    with pytest.raises(ConversionError, match="whole seconds"):
        read_t_file(tmp_path / "TT1_03.raw64")
    folder = tmp_path / "tt7"
    folder.mkdir()
    write_t(folder / "TT7_01.t", [10])
    with pytest.raises(ConversionError) as err:
        read_mclust(folder, session=tetrode_session([6, 8]))
    assert "TT7_01.t" in str(err.value) and "add a tetrode with number: 7 to tetrodes" in str(err.value)


def write_ntt(path, timestamps, cells, header_extra=b""):
    header = (
        b"######## Neuralynx Data File Header\n-SamplingFrequency 32000\n-ADBitVolts 1e-6 1e-6 2e-6 1e-6\n"
        b"-AcqEntName TT6\n-ADChannel 20 21 22 23\n" + header_extra
    )
    records = np.zeros(len(timestamps), dtype=RECORD)
    records["timestamp"] = timestamps
    records["cell"] = cells
    records["samples"][:, 8, 2] = -100
    path.write_bytes(header.ljust(NTT_HEADER, b"\0") + records.tobytes())


def test_mclust_waveforms_from_the_ntt_it_cut(tmp_path):
    """MClust writes TT6_01.t next to TT6.ntt: the .t spikes are matched to the .ntt records."""
    us = np.array([1_000_000, 1_000_530, 2_000_000, 3_000_049], dtype=np.uint64)
    write_ntt(tmp_path / "TT6.ntt", us, [0, 0, 0, 0])
    write_t(tmp_path / "TT6_01.t", np.rint(us[[0, 1, 3]] / 100.0).astype(np.uint64))
    units = read_mclust(tmp_path, session=tetrode_session([6]))
    assert units.channel_names == {0: ["TT6/AD20", "TT6/AD21", "TT6/AD22", "TT6/AD23"]}
    assert units.waveforms_mean_uv.shape == (1, 32, 4) and units.waveforms_mean_uv[0, 8, 2] == pytest.approx(-200)
    assert units.waveform_rate_hz == 32_000.0 and str(tmp_path / "TT6.ntt") in units.source_files
    write_t(tmp_path / "TT6_01.t", [12_345])  # no record at 1.2345 s: no waveform rather than a wrong one
    assert read_mclust(tmp_path, session=tetrode_session([6])).waveforms_mean_uv is None


def test_ntt(tmp_path):
    write_ntt(tmp_path / "TT3.ntt", [1_000_000, 1_000_500, 2_000_000, 3_000_000], [0, 1, 1, 2])
    units = read_ntt(tmp_path, sampling_rate_hz=32_000.0)
    assert units.ids == ["TT3_0", "TT3_1", "TT3_2"] and units.labels == ["unsorted", "good", "good"]
    assert units.tetrode == [2, 2, 2]
    np.testing.assert_array_equal(units.spike_samples[1], [32_016, 64_000])  # us at 32 kHz
    assert units.waveforms_mean_uv.shape == (3, 32, 4) and units.waveforms_mean_uv[1, 8, 2] == pytest.approx(-200)
    assert units.channel_names == {2: ["TT6/AD20", "TT6/AD21", "TT6/AD22", "TT6/AD23"]}


def test_ntt_input_inverted(tmp_path):
    write_ntt(tmp_path / "TT3.ntt", [1_000_000], [1], header_extra=b"-InputInverted True\n")
    units = read_ntt(tmp_path)
    assert units.waveforms_mean_uv[0, 8, 2] == pytest.approx(200)  # -100 counts x -2 uV, as neo scales it


def write_axona(folder, timestamps, clusters, with_set=True):
    n = len(timestamps)
    head = f"trial_date Monday\ntimebase 96000 hz\nsamples_per_spike 50\nsample_rate 48000 hz\nnum_spikes {n}\n"
    block = np.dtype([("timestamp", ">u4"), ("samples", "i1", 50)])
    records = np.zeros((n, 4), dtype=block)
    records["timestamp"] = np.asarray(timestamps)[:, None]
    records["samples"][:, 1, 10] = 64
    (folder / "trial.2").write_bytes(head.encode() + b"data_start" + records.tobytes() + b"\r\ndata_end")
    ids = " ".join(map(str, clusters))
    cut = f"n_clusters: 2\nExact_cut_for: trial spikes: {n}\n{ids}\n"
    (folder / "trial_2.cut").write_text(cut)
    if with_set:
        gains = "".join(f"gain_ch_{k} 2000\n" for k in range(16))
        (folder / "trial.set").write_text("ADC_fullscale_mv 1500\n" + gains)


def test_axona(tmp_path):
    write_axona(tmp_path, [96, 960, 9600], [1, 0, 1])
    units = read_axona(tmp_path, sampling_rate_hz=48_000.0)
    assert units.ids == ["trial.2_0", "trial.2_1"] and units.labels == ["unsorted", "good"]
    assert units.tetrode == [1, 1]
    np.testing.assert_array_equal(units.spike_samples[1], [48, 4800])
    # 64 / 128 x 1500 mV / 2000 = 0.375 mV
    assert units.waveforms_mean_uv[1, 10, 1] == pytest.approx(375.0)


def test_axona_cut_mismatch(tmp_path):
    write_axona(tmp_path, [96, 960], [1, 0])
    (tmp_path / "trial_2.cut").write_text("Exact_cut_for: trial spikes: 3\n1 0 1\n")
    with pytest.raises(ConversionError, match="trial_2.cut"):
        read_axona(tmp_path, sampling_rate_hz=48_000.0)


def write_spikes(path, n, n_channels=4, n_samples=40, truncate=0):
    header = (
        "header.format = 'Open Ephys Data Format'; \nheader.version = 0.4;\n"
        f"header.num_channels = {n_channels};\nheader.sampleRate = 30000;\nheader.samplesPerSpike = {n_samples};\n"
    ).encode()
    rec = np.zeros(n, dtype=record_dtype(n_channels, n_samples))
    rec["event_type"], rec["timestamp"], rec["n_channels"], rec["n_samples"] = (
        2,
        1000 + np.arange(n) * 300,
        n_channels,
        40,
    )
    rec["sorted_id"] = np.arange(n) % 2
    rec["waveforms"] = 32768
    rec["waveforms"][:, 0, 10] = 32768 - 1000
    rec["gains"] = 20000.0
    data = header.ljust(1024, b" ") + rec.tobytes()
    path.write_bytes(data[: len(data) - truncate])


def test_openephys_spikes(tmp_path):
    write_spikes(tmp_path / "Tetrode2.spikes", 5)
    units = read_openephys_spikes(tmp_path)
    assert [s.size for s in units.spike_samples] == [3, 2] and units.tetrode == [1, 1]
    np.testing.assert_array_equal(units.spike_samples[0], [1000, 1600, 2200])  # no .continuous: origin 0
    assert units.waveforms_mean_uv[0, 10, 0] == pytest.approx(-50.0)  # -1000 / (20000 / 1000)


def test_struct_sizes():
    assert RECORD.itemsize == 304
    assert record_dtype(2, 40).itemsize == 216  # the real GUI 0.6.7 stereotrode files
    assert struct.calcsize("<Bqq") == 17
