"""Axona tetrode spike files (``.1`` … ``.N``) with Tint ``.cut`` files → SortedUnits.

Design decision: small parsers of our own (neo does not read these). Formats, as DacqUSB and Tint
write them:

- ``<base>.<n>`` (tetrode n): ``key value`` header lines (``timebase 96000 hz``, ``samples_per_spike
  50``, ``sample_rate 48000 hz``, ``num_spikes``), the bytes ``data_start``, then per spike 4 blocks
  (one per channel) of a 4-byte big-endian timestamp in ``timebase`` ticks from the trial start plus
  50 int8 samples, and finally ``\\r\\ndata_end``.
- ``<base>_<n>.cut``: text whose ``Exact_cut_for: <base> spikes: <count>`` line is followed by the
  cluster id of every spike, whitespace separated. Cluster 0 holds the spikes no cluster claimed
  ('unsorted'); the others 'good'.
- ``<base>.set`` (optional): ``ADC_fullscale_mv`` and ``gain_ch_<k>`` give uV =
  sample / 128 x ADC_fullscale_mv x 1000 / gain. Without it waveforms are not stored.

The trial start is the raw recording's first sample, so a spike's sample is timestamp / timebase x
the raw rate.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from nwb_ketamine.converters.units import SortedUnits, label_of_cluster
from nwb_ketamine.errors import ConversionError

START, END = b"data_start", b"\r\ndata_end"


def _number(text: str) -> float:
    return float(text.split()[0])


def read_spike_file(path) -> dict:
    """Header, timestamps (ticks), timebase and int8 waveforms (n, samples, 4) of one tetrode file."""
    path = Path(path)
    data = path.read_bytes()
    start = data.find(START)
    if start < 0:
        raise ConversionError(f"{path}: no 'data_start'; not an Axona spike file")
    header = {}
    for line in data[:start].decode("latin-1").splitlines():
        key, _, value = line.strip().partition(" ")
        if key:
            header[key] = value.strip()
    try:
        n = int(_number(header["num_spikes"]))
        timebase = _number(header.get("timebase", "96000 hz"))
        n_samples = int(_number(header.get("samples_per_spike", "50")))
    except (KeyError, ValueError):
        raise ConversionError(f"{path}: header lacks num_spikes") from None
    block = np.dtype([("timestamp", ">u4"), ("samples", "i1", n_samples)])
    body = data[start + len(START) :]
    need = n * 4 * block.itemsize
    if len(body) < need:
        raise ConversionError(f"{path}: {n} spikes announced but only {len(body)} bytes of data; truncated")
    records = np.frombuffer(body[:need], dtype=block).reshape(n, 4)
    return {
        "header": header,
        "timestamps": records["timestamp"][:, 0].astype(np.int64),
        "timebase_hz": timebase,
        "sample_rate_hz": _number(header["sample_rate"]) if "sample_rate" in header else None,
        "waveforms": records["samples"].transpose(0, 2, 1),  # (n, samples, channels)
    }


def read_cut_file(path, n_spikes: int | None = None) -> np.ndarray:
    """Cluster id of every spike from a Tint ``.cut`` file."""
    path = Path(path)
    text = path.read_text(errors="replace")
    match = re.search(r"Exact_cut_for:\s*\S+\s+spikes:\s*(\d+)", text)
    if not match:
        raise ConversionError(f"{path}: no 'Exact_cut_for: ... spikes: N' line; not a Tint .cut file")
    ids = np.array(text[match.end() :].split(), dtype=np.int64)
    expected = int(match.group(1))
    if ids.size != expected or (n_spikes is not None and ids.size != n_spikes):
        raise ConversionError(f"{path}: {ids.size} cluster ids for {n_spikes or expected} spikes")
    return ids


def _gains(set_path: Path, tetrode: int) -> np.ndarray | None:
    if not set_path.exists():
        return None
    values = {}
    for line in set_path.read_text(errors="replace").splitlines():
        key, _, value = line.strip().partition(" ")
        values[key] = value
    try:
        fullscale = float(values["ADC_fullscale_mv"])
        gains = np.array([float(values[f"gain_ch_{tetrode * 4 + i}"]) for i in range(4)])
    except (KeyError, ValueError):
        return None
    return fullscale * 1000.0 / gains / 128.0


def read_axona(path, *, session=None, sampling_rate_hz: float | None = None) -> SortedUnits:
    """Read every ``<base>.<n>`` file with a ``.cut`` file in a folder (or one spike file)."""
    path = Path(path)
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if re.fullmatch(r".+\.\d+", p.name)), key=lambda p: p.name)
    else:
        files = [path]
    if not files:
        raise ConversionError(f"{path}: no Axona tetrode spike files (<base>.1 ... <base>.N)")
    ids, spikes, labels, tetrodes, means, sds = [], [], [], [], [], []
    rate = sampling_rate_hz
    with_waveforms = True
    for file in files:
        base, number = file.name.rsplit(".", 1)
        tet = int(number) - 1
        candidates = (file.with_name(f"{base}_{number}.cut"), file.with_name(f"{file.name}.cut"))
        cut = next((c for c in candidates if c.exists()), None)
        if cut is None:
            raise ConversionError(f"{file}: no Tint cut file ({base}_{number}.cut); cut the tetrode in Tint")
        content = read_spike_file(file)
        clusters = read_cut_file(cut, content["timestamps"].size)
        rate = rate or content["sample_rate_hz"]
        if rate is None:
            raise ConversionError(f"{file}: no sample_rate in the header; give the raw recording's rate")
        samples = np.rint(content["timestamps"] / content["timebase_hz"] * rate).astype(np.int64)
        scale = _gains(file.with_name(f"{base}.set"), tet)
        with_waveforms &= scale is not None
        for cluster in np.unique(clusters):
            sel = clusters == cluster
            ids.append(f"{base}.{number}_{int(cluster)}")
            spikes.append(samples[sel])
            labels.append(label_of_cluster(int(cluster)))
            tetrodes.append(tet)
            if scale is not None:
                w = content["waveforms"][sel].astype(np.float64) * scale
                means.append(w.mean(axis=0))
                sds.append(w.std(axis=0, ddof=1) if len(w) > 1 else np.full(w.shape[1:], np.nan))
    return SortedUnits(
        ids,
        spikes,
        float(rate),
        labels,
        tetrodes,
        np.stack(means) if with_waveforms and means else None,
        np.stack(sds) if with_waveforms and sds else None,
    )
