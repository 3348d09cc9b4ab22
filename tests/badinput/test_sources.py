"""Corrupt or contradictory in vivo sources: refused before anything is written, naming the file and the field.

The tiny study's Open Ephys recording (16 channels, 10 s at 30 kHz) is damaged in the copy as a careless
copy, a full disk or a hand edit would damage it; the study file's in vivo times and analysis parameters
are set outside what the recording or their meaning allows.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from .conftest import Case, cases_of, check

_STREAM = "raw/invivo/**/continuous/*/"
_INVIVO_OUT = ("archive/sub-m003*/**",)
#: A failed in vivo session does not stop the batch: the slice sessions, manifest and catalog are written.
_BATCH = ("archive/**",)


def _convert(ws):
    return ["convert", ws.study_file, ws.archive(), "--jobs", "1", "--quiet"]


def _check(ws):
    return ["check", ws.study_file]


def _damage(change, command=_convert):
    def prepare(ws):
        change(ws)
        return command(ws)

    return prepare


def _truncate(fraction, extra_bytes=0):
    def change(ws):
        dat = ws.find(_STREAM + "continuous.dat")
        size = dat.stat().st_size
        frame = 16 * 2
        keep = int(size * fraction) // frame * frame + extra_bytes
        with open(dat, "r+b") as f:
            f.truncate(keep)

    return change


def _edit_npy(name, edit):
    def change(ws):
        path = ws.find(_STREAM + name)
        values = np.load(path)
        np.save(path, edit(values))

    return change


def _repeat_one(values):
    values = values.copy()
    values[100] = values[99]
    return values


def _oebin(num_channels=None, drop_channel=False):
    def change(ws):
        path = ws.find("raw/invivo/**/structure.oebin")
        header = json.loads(path.read_text())
        stream = header["continuous"][0]
        if num_channels is not None:
            stream["num_channels"] = num_channels
        if drop_channel:
            stream["channels"] = stream["channels"][:-1]
        path.write_text(json.dumps(header, indent=2))

    return change


def _phy_spikes(edit):
    def change(ws):
        path = ws.find("raw/invivo/**/kilosort/spike_times.npy")
        np.save(path, edit(np.load(path).astype(np.int64)))

    return change


def _negative_first(values):
    values = values.copy()
    values[0] = -30
    return values


def _past_end(values):
    values = values.copy()
    values[-1] = 10 * 30_000 + 5
    return values


def _invivo(study):
    return next(s for s in study["sessions"] if s["type"] == "invivo")


def _study(change, command=_check):
    def prepare(ws):
        ws.edit_study(change)
        return command(ws)

    return prepare


def _injection_after_end(study):
    _invivo(study)["injection"]["time"] = "2024-03-15T15:00:04+08:00"


def _epoch_past_end(study):
    _invivo(study)["epochs"][1]["stop"] = "60 s"


def _epoch_negative(study):
    _invivo(study)["epochs"][0]["start"] = "-5 s"


def _channel_99(study):
    _invivo(study)["tetrodes"][0]["channels"][3] = 99


def _epsc(name, value):
    def change(study):
        study["analysis"]["epsc"][name] = value

    return change


def _bursts(name, value):
    def change(study):
        study["analysis"]["bursts"] = {name: value}

    return change


_SAMPLES = r"sample_numbers\.npy: lists \d+ samples but continuous\.dat holds \d+ frames"
_OFF_FRAME = r"continuous\.dat: \d+ bytes is not a whole number of frames of 16 channels"
_GOES_BACK = r"sample_numbers\.npy: sample numbers go back at index"
_OEBIN = r"structure\.oebin: continuous\[0\]\.num_channels is 1[57] but continuous\[0\]\.channels lists 16"
_SPIKES = r"kilosort: unit \S+ has spikes at samples -?\d+\.\.\d+, outside the 300000 samples"
#: ``check`` names the line (``study.yaml:155 sessions[2].``), ``convert`` the session (``study.yaml: session ...: ``).
_SESSION = r"study\.yaml(:\d+ sessions\[\d+\]\.|: session \S+: )"
_CHANNEL_99 = r"\[99\] do not exist; the recording has 16 channels \(0-15\)"
_INJECTION = _SESSION + r"injection\.time: 3604 s after start_time, after the end of the 10 s recording"

CASES = [
    # Open Ephys binary: data against its own sample numbers and timestamps.
    Case("oe-dat-half-on-frame", _damage(_truncate(0.5)), _SAMPLES, may_write=_BATCH, absent=_INVIVO_OUT),
    Case("oe-dat-half-on-frame-check", _damage(_truncate(0.5), _check), _SAMPLES),
    Case("oe-dat-half-off-frame", _damage(_truncate(0.5, 7)), _OFF_FRAME, may_write=_BATCH, absent=_INVIVO_OUT),
    Case("oe-dat-one-byte-short", _damage(_truncate(1.0, -1), _check), _OFF_FRAME),
    Case(
        "oe-dat-zero-bytes",
        _damage(_truncate(0.0)),
        r"continuous\.dat: empty \(0 bytes\)",
        may_write=_BATCH,
        absent=_INVIVO_OUT,
    ),
    Case(
        "oe-sample-numbers-reversed",
        _damage(_edit_npy("sample_numbers.npy", lambda v: v[::-1])),
        _GOES_BACK,
        may_write=_BATCH,
        absent=_INVIVO_OUT,
    ),
    Case(
        "oe-sample-numbers-reversed-check",
        _damage(_edit_npy("sample_numbers.npy", lambda v: v[::-1]), _check),
        _GOES_BACK,
    ),
    Case("oe-sample-numbers-repeat", _damage(_edit_npy("sample_numbers.npy", _repeat_one), _check), _GOES_BACK),
    Case("oe-sample-numbers-short", _damage(_edit_npy("sample_numbers.npy", lambda v: v[:-1]), _check), _SAMPLES),
    Case(
        "oe-timestamps-short",
        _damage(_edit_npy("timestamps.npy", lambda v: v[: len(v) // 2]), _check),
        r"timestamps\.npy: lists \d+ samples but continuous\.dat holds 300000 frames",
    ),
    Case("oe-oebin-17-of-16", _damage(_oebin(num_channels=17)), _OEBIN, may_write=_BATCH, absent=_INVIVO_OUT),
    Case(
        "oe-oebin-15-listed",
        _damage(_oebin(drop_channel=True), _check),
        r"structure\.oebin: continuous\[0\]\.num_channels is 16 but continuous\[0\]\.channels lists 15",
    ),
    # phy: spike times within the recording (one sample of tolerance).
    Case(
        "phy-spikes-x100",
        _damage(_phy_spikes(lambda v: v * 100)),
        _SPIKES,
        may_write=_BATCH,
        absent=_INVIVO_OUT,
    ),
    Case(
        "phy-spike-negative",
        _damage(_phy_spikes(_negative_first)),
        _SPIKES,
        may_write=_BATCH,
        absent=_INVIVO_OUT,
    ),
    Case("phy-spike-past-end", _damage(_phy_spikes(_past_end)), _SPIKES, may_write=_BATCH, absent=_INVIVO_OUT),
    # The study file against the recording.
    Case("injection-1h-after-check", _study(_injection_after_end), _INJECTION),
    Case(
        "injection-1h-after-convert",
        _study(_injection_after_end, _convert),
        _INJECTION,
        may_write=_BATCH,
        absent=_INVIVO_OUT,
    ),
    Case(
        "epoch-past-end",
        _study(_epoch_past_end),
        _SESSION + r"epochs\[1\]: post-injection \(4\.\.60 s\) is not within the 10 s",
    ),
    Case(
        "epoch-before-start",
        _study(_epoch_negative, _convert),
        _SESSION + r"epochs\[0\]: baseline \(-5\.\.4 s\)",
        may_write=_BATCH,
        absent=_INVIVO_OUT,
    ),
    Case("tetrode-channel-99-check", _study(_channel_99), _SESSION + r"tetrodes\[0\]\.channels: " + _CHANNEL_99),
    Case(
        "tetrode-channel-99-convert",
        _study(_channel_99, _convert),
        r"tetrodes\[0\]\.channels " + _CHANNEL_99,
        may_write=_BATCH,
        absent=_INVIVO_OUT,
    ),
    # Analysis parameters within their meaningful ranges (the study file's JSON Schema).
    Case(
        "nmda-latency-negative",
        _study(_epsc("nmda_latency_s", -1)),
        r"study\.yaml:\d+ analysis\.epsc\.nmda_latency_s: -1 is not above 0; give a positive value",
    ),
    Case(
        "decay-fraction-above-one",
        _study(_epsc("decay_fit_start_fraction", 1.5), _convert),
        r"study\.yaml:\d+ analysis\.epsc\.decay_fit_start_fraction: 1\.5",
    ),
    Case(
        "test-pulse-zero",
        _study(_epsc("test_pulse_amplitude_v", 0)),
        r"study\.yaml:\d+ analysis\.epsc\.test_pulse_amplitude_v",
    ),
    Case(
        "burst-min-spikes-one",
        _study(_bursts("min_spikes", 1)),
        r"study\.yaml:\d+ analysis\.bursts\.min_spikes: 1 is below the minimum 2",
    ),
    Case(
        "burst-isi-zero",
        _study(_bursts("onset_isi_s", 0)),
        r"study\.yaml:\d+ analysis\.bursts\.onset_isi_s: 0 is not above 0",
    ),
]


@pytest.mark.parametrize("case", cases_of(CASES))
def test_bad_source(case, workspace, capsys):
    check(case, workspace, capsys)
