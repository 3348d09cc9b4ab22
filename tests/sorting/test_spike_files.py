"""Parsers of spike files written here in the documented formats (no files written by Neuralynx, MClust,
Axona or Open Ephys software were available for .ntt, .t and Axona; .spikes is also checked on real files)."""

import struct

import numpy as np
import pytest

from nwb_ketamine.converters.axona import read_axona
from nwb_ketamine.converters.mclust import read_mclust
from nwb_ketamine.converters.ntt import HEADER_BYTES as NTT_HEADER
from nwb_ketamine.converters.ntt import RECORD, read_ntt
from nwb_ketamine.converters.openephys_spikes import read_openephys_spikes, record_dtype
from nwb_ketamine.errors import ConversionError


def write_t(path, ticks, header=True):
    head = b"%%BEGINHEADER\n% Program: MClust\n%%ENDHEADER\n" if header else b"% no header end\n"
    path.write_bytes(head + np.asarray(ticks, dtype=">u4").tobytes())


def test_mclust(tmp_path):
    write_t(tmp_path / "TT2_01.t", [10, 25, 1000])
    write_t(tmp_path / "TT4_03.t", [5])
    units = read_mclust(tmp_path, sampling_rate_hz=30_000.0)
    assert units.ids == ["TT2_01", "TT4_03"] and units.tetrode == [1, 3] and units.labels == ["good", "good"]
    np.testing.assert_array_equal(units.spike_samples[0], [30, 75, 3000])  # 100 us ticks at 30 kHz


def test_mclust_without_header_end(tmp_path):
    write_t(tmp_path / "TT1_01.t", [1, 2], header=False)
    with pytest.raises(ConversionError) as err:
        read_mclust(tmp_path / "TT1_01.t", sampling_rate_hz=30_000.0)
    assert "TT1_01.t" in str(err.value) and "%%ENDHEADER" in str(err.value) and "\n" not in str(err.value)


def test_ntt(tmp_path):
    header = b"######## Neuralynx Data File Header\n-SamplingFrequency 32000\n-ADBitVolts 1e-6 1e-6 2e-6 1e-6\n"
    records = np.zeros(4, dtype=RECORD)
    records["timestamp"] = [1_000_000, 1_000_500, 2_000_000, 3_000_000]
    records["cell"] = [0, 1, 1, 2]
    records["samples"][:, 8, 2] = -100
    (tmp_path / "TT3.ntt").write_bytes(header.ljust(NTT_HEADER, b"\0") + records.tobytes())
    units = read_ntt(tmp_path, sampling_rate_hz=32_000.0)
    assert units.ids == ["TT3_0", "TT3_1", "TT3_2"] and units.labels == ["unsorted", "good", "good"]
    assert units.tetrode == [2, 2, 2]
    np.testing.assert_array_equal(units.spike_samples[1], [32_016, 64_000])  # us at 32 kHz
    assert units.waveforms_mean_uv.shape == (3, 32, 4) and units.waveforms_mean_uv[1, 8, 2] == pytest.approx(-200)


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


def test_truncated_spikes_file(tmp_path):
    write_spikes(tmp_path / "Tetrode1.spikes", 3, truncate=7)
    with pytest.raises(ConversionError) as err:
        read_openephys_spikes(tmp_path)
    assert "Tetrode1.spikes" in str(err.value) and "truncated" in str(err.value) and "\n" not in str(err.value)


def test_struct_sizes():
    assert RECORD.itemsize == 304
    assert record_dtype(2, 40).itemsize == 216  # the real GUI 0.6.7 stereotrode files
    assert struct.calcsize("<Bqq") == 17
