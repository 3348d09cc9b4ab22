"""Reading a window of a session's raw signal for the traces view: sliced in the file, min/max decimated.

Design decisions:

- Nothing is loaded that the view does not show: the raw ElectricalSeries is sliced to the visible window
  only (just the chunks that window touches are decompressed) and reduced to about
  ``max_points`` per channel by min/max decimation, streamed in blocks so that memory stays bounded
  whatever the window length. Min/max keeps every spike's extreme: the decimated envelope equals the
  full-resolution one exactly.
- :func:`raw_window` reads by object path from files kept open (:func:`~nwb_ketamine.explorer.nwbfiles.open_h5`),
  because the traces view reads a window per pan or zoom; the tests compare it with a reader through
  pynwb's objects, which shares :func:`read_raw_window` and :func:`join_windows` (they work on any object
  with an ElectricalSeries' fields).
- :func:`raw_window` decompresses the chunks itself with the fastest decoder installed (libdeflate or
  ISA-L; direct chunk reads, :mod:`nwb_ketamine.explorer.chunkread`) instead of HDF5's zlib, for the
  layout the converters write; ``direct=False`` (and the pynwb path) slice with h5py, the reference the
  tests compare it with.
- What a window needs besides the samples (series timing and scaling, channel names and groups, events,
  injection) is read once per file version (:func:`_layout`, plain values only) rather than per window.
- Integer samples are decimated by sub-bins of 16 samples (:func:`_integer_extremes`): elementwise numpy
  passes over long runs instead of argmin/argmax along an inner axis, the same values and order.
- Values come back in µV (``_uv``) and seconds on the session clock, so views and tests need no pynwb.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd

from nwb_ketamine import h5read
from nwb_ketamine.explorer import h5tables
from nwb_ketamine.explorer.chunkread import direct_reader
from nwb_ketamine.explorer.nwbfiles import MAX_OPEN_FILES, file_key, lock, open_h5
from nwb_ketamine.filelayout import ACQUISITION_PATH, EVENTS_PATH, EVENTS_PREFIX

#: Samples (rows × channels) decompressed and reduced at a time by :func:`read_raw_window`.
BLOCK_VALUES = 4_000_000


#: Samples per sub-bin of :func:`_integer_extremes`.
SUB_BIN = 16


def _halve(values: np.ndarray, op) -> np.ndarray:
    """``op`` (np.minimum or np.maximum) over axis -2 of ``values``, halving it each step.

    Each step combines the first and the second half (overlapping by one sample when the length is odd,
    which changes neither a minimum nor a maximum): elementwise over long contiguous runs, where numpy's
    reductions along an inner axis run 16 samples (one row of channels) at a time.
    """
    w = values.shape[-2]
    while w > 1:
        c = (w + 1) // 2
        values = op(values[..., :c, :], values[..., w - c : w, :])
        w = c
    return values[..., 0, :]


def _integer_extremes(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(min, max, min occurs first) per bin and channel of integer ``blocks`` (n_bins, width, n_channels).

    The min and max of every sub-bin of :data:`SUB_BIN` samples (and of the shorter last one) by halving;
    a bin's extreme is the first sub-bin's that reaches it, so that the extremes' order is the order of their
    sub-bins, except when both lie in the same one: only those sub-bins are searched sample by sample
    (argmin/argmax, first occurrence). The result is that of argmin/argmax over the whole bin.
    """
    n_bins, width, n_ch = blocks.shape
    s = SUB_BIN
    full = width // s
    main = blocks[:, : full * s].reshape(n_bins, full, s, n_ch)  # a view
    sub_min, sub_max = _halve(main, np.minimum), _halve(main, np.maximum)  # (n_bins, full, n_ch)
    if full * s < width:
        tail = blocks[:, full * s :]
        sub_min = np.concatenate([sub_min, tail.min(axis=1, keepdims=True)], axis=1)
        sub_max = np.concatenate([sub_max, tail.max(axis=1, keepdims=True)], axis=1)
    jmin, jmax = sub_min.argmin(axis=1), sub_max.argmax(axis=1)  # first sub-bin reaching the extreme
    vmin = np.take_along_axis(sub_min, jmin[:, None, :], axis=1)[:, 0]
    vmax = np.take_along_axis(sub_max, jmax[:, None, :], axis=1)[:, 0]
    min_first = jmin < jmax
    bins, chans = np.nonzero(jmin == jmax)
    if bins.size:
        rows = np.minimum(jmin[bins, chans][:, None] * s + np.arange(s), width - 1)  # the last one repeated
        segment = blocks[bins[:, None], rows, chans[:, None]]
        min_first[bins, chans] = segment.argmin(axis=1) <= segment.argmax(axis=1)
    return vmin, vmax, min_first


def minmax_decimate(data: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Reduce ``data`` (n_samples, n_channels) to two points per bin of ``width`` samples.

    Parameters
    ----------
    data
        Samples × channels.
    width
        Samples per bin.

    Returns
    -------
    positions : ndarray of int64
        Sample index (into ``data``) of each output point: first and last sample of every bin.
    values : ndarray
        (2 × n_bins, n_channels): per bin and channel, the minimum and the maximum in the order they
        occur (first occurrences), so the line drawn through them keeps every extreme.
    """
    n, n_ch = data.shape
    n_bins = -(-n // width)
    pad = n_bins * width - n
    if pad:
        # Repeat the last sample: it changes neither the min nor the max of the last bin.
        data = np.concatenate([data, np.repeat(data[-1:], pad, axis=0)])
    if data.dtype.kind in "iu" and width >= 2 * SUB_BIN:
        # Raw samples: 0.57x the time of argmin/argmax over whole bins on a 10 s window of the simulated 1 h
        # session, 0.69x on noise (benchmarks/bench_decimate.py, 15 alternating rounds, load 12-14).
        vmin, vmax, min_first = _integer_extremes(data.reshape(n_bins, width, n_ch))
    else:
        # Floats (NaN: argmin's first NaN) and short bins. Bins × channels × samples, each bin of a channel
        # contiguous: argmin and argmax along an inner axis copy the array to that layout each (numpy moves
        # the axis last); one copy serves both.
        blocks = np.ascontiguousarray(data.reshape(n_bins, width, n_ch).transpose(0, 2, 1))
        imin, imax = blocks.argmin(axis=2), blocks.argmax(axis=2)
        vmin = np.take_along_axis(blocks, imin[:, :, None], axis=2)[:, :, 0]
        vmax = np.take_along_axis(blocks, imax[:, :, None], axis=2)[:, :, 0]
        min_first = imin <= imax
    out = np.empty((n_bins, 2, n_ch), dtype=data.dtype)
    out[:, 0] = np.where(min_first, vmin, vmax)
    out[:, 1] = np.where(min_first, vmax, vmin)
    starts = np.arange(n_bins, dtype=np.int64) * width
    positions = np.stack([starts, np.minimum(starts + width - 1, n - 1)], axis=1).ravel()
    return positions, out.reshape(2 * n_bins, n_ch)


def read_raw_window(series, t0: float, t1: float, channels=None, max_points: int = 4000) -> dict:
    """:func:`raw_window` on an open ElectricalSeries (its ``data`` an h5py dataset or an array).

    Parameters
    ----------
    series
        An ElectricalSeries, or any object with its ``data``, ``rate``, ``starting_time``, ``conversion``,
        ``offset`` and ``channel_conversion``.
    t0, t1, channels, max_points
        As for :func:`raw_window`.

    Returns
    -------
    dict
        ``time_s``, ``data_uv``, ``i0`` and ``i1`` (the sample range read), ``decimated``, ``rate_hz``,
        ``channel_index``.
    """
    rate = float(series.rate)
    start = float(series.starting_time or 0.0)
    n_total, n_ch = series.data.shape if len(series.data.shape) == 2 else (series.data.shape[0], 1)
    i0 = int(np.clip(math.floor((t0 - start) * rate), 0, n_total))
    i1 = int(np.clip(math.ceil((t1 - start) * rate), i0, n_total))
    chans = np.arange(n_ch) if channels is None else np.asarray(channels, dtype=np.int64)
    scale = np.full(chans.size, float(series.conversion) * 1e6)
    if series.channel_conversion is not None:
        scale *= np.asarray(series.channel_conversion[:], dtype=np.float64)[chans]
    offset = float(getattr(series, "offset", 0.0) or 0.0) * 1e6
    n = i1 - i0
    points = max(2, int(max_points))
    data = series.data
    if n <= points:
        block = np.asarray(data[i0:i1]).reshape(n, n_ch)
        block = block if channels is None else block[:, chans]
        times = start + (i0 + np.arange(n)) / rate
        values = block.astype(np.float64) * scale + offset
        decimated = False
    else:
        width = -(-n // (points // 2))
        # Whole bins per block, so each bin is reduced once, from all its samples.
        bins_per_block = max(1, BLOCK_VALUES // (width * max(1, n_ch)))
        parts_t, parts_v = [], []
        for a in range(i0, i1, bins_per_block * width):
            b = min(i1, a + bins_per_block * width)
            block = np.asarray(data[a:b]).reshape(b - a, n_ch)
            block = block if channels is None else block[:, chans]  # all channels: no copy
            positions, reduced = minmax_decimate(block, width)
            parts_t.append(start + (a + positions) / rate)
            parts_v.append(reduced.astype(np.float64) * scale + offset)
        times, values = np.concatenate(parts_t), np.concatenate(parts_v)
        decimated = True
    return {"time_s": times, "data_uv": values, "i0": i0, "i1": i1, "decimated": decimated, "rate_hz": rate,
            "channel_index": chans}  # fmt: skip


class _H5Series:
    """The fields of an ElectricalSeries that :func:`read_raw_window` uses: its data, and values read once."""

    def __init__(self, data, info: _SeriesInfo):
        self.data = data
        self.starting_time, self.rate = info.starting_time, info.rate
        self.conversion, self.offset, self.channel_conversion = info.conversion, info.offset, info.channel_conversion


class _SeriesInfo:
    """What :class:`_H5Series` needs of an ElectricalSeries group besides its samples, as plain values."""

    def __init__(self, group):
        data = group["data"]
        self.data_path = data.name
        self.starting_time, self.rate = h5tables.series_timing(group)
        if self.rate is None:
            raise LookupError(f"{group.name}: timestamps instead of a sampling rate are not supported")
        self.conversion = float(data.attrs.get("conversion", 1.0))
        self.offset = float(data.attrs.get("offset", 0.0))
        conversion = group.get("channel_conversion")
        self.channel_conversion = None if conversion is None else np.asarray(conversion[()], dtype=np.float64)

    def series(self, f, direct: bool) -> _H5Series:
        """The series in an open file.

        Parameters
        ----------
        f
            The open h5py file.
        direct
            Slice the data by direct chunk reads (:func:`~nwb_ketamine.explorer.chunkread.direct_reader`).

        Returns
        -------
        _H5Series
        """
        data = f[self.data_path]
        return _H5Series(direct_reader(data) if direct else data, self)


def _event_tables(f) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Every EventsTable in ``/events`` with events: (name, start, duration, labels), read in full."""
    tables = []
    for name, table in (f.get(EVENTS_PATH) or {}).items():
        if "timestamp" not in table or len(table["timestamp"]) == 0:
            continue
        start = np.asarray(table["timestamp"][()], dtype=float)
        duration = np.asarray(table["duration"][()], dtype=float) if "duration" in table else np.zeros(len(start))
        labels = h5read.column(table, "label") if "label" in table else np.full(len(start), "")
        tables.append((name, start, duration, labels))
    return tables


def _events(tables, t0: float, t1: float) -> pd.DataFrame:
    """Events of :func:`_event_tables` at ``[t0, t1)``: start_s, stop_s (start + duration), label, channel."""
    return join_events([events_frame(name, start, duration, labels, t0, t1)
                        for name, start, duration, labels in tables])  # fmt: skip


def events_frame(name: str, start, duration, labels, t0: float, t1: float) -> pd.DataFrame:
    """One EventsTable's events at ``[t0, t1)`` as rows of start_s, stop_s, label, channel (the table's name).

    Parameters
    ----------
    name
        The table's name (``events_<channel>``).
    start, duration, labels
        Its columns (a missing duration as zeros).
    t0, t1
        The window (s).

    Returns
    -------
    pandas.DataFrame
    """
    start = np.asarray(start, dtype=float)
    keep = (start >= t0) & (start < t1)
    duration = np.nan_to_num(np.asarray(duration, dtype=float), nan=0.0)
    return pd.DataFrame(
        {
            "start_s": start[keep],
            "stop_s": start[keep] + duration[keep],
            "label": [str(h5read.decode(v)) for v in np.asarray(labels, dtype=object)[keep]],
            "channel": [name.removeprefix(EVENTS_PREFIX)] * int(keep.sum()),
        }
    )


def join_events(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The events of several tables in time order.

    Parameters
    ----------
    frames
        Frames of :func:`events_frame`.

    Returns
    -------
    pandas.DataFrame
    """
    if not frames:
        return pd.DataFrame({"start_s": [], "stop_s": [], "label": [], "channel": []})
    return pd.concat(frames, ignore_index=True).sort_values("start_s", kind="stable").reset_index(drop=True)


def join_windows(series: list, t0: float, t1: float, channels=None, max_points: int = 4000) -> dict:
    """:func:`read_raw_window` over the segments of a recording (one series each, in time order).

    The window's samples of every segment that overlaps it are joined on the session clock, with one
    row of NaN between segments so a drawn line breaks at each recording gap instead of bridging it.
    Also returns the recording's span (``start_s``, ``duration_s``: first sample to end of the last
    segment) and ``gaps`` (list of (end of a segment, start of the next)).

    Parameters
    ----------
    series
        The segments' series (as for :func:`read_raw_window`), in time order.
    t0, t1, channels, max_points
        As for :func:`raw_window`.

    Returns
    -------
    dict
        :func:`read_raw_window`'s keys, and ``start_s``, ``duration_s``, ``gaps``, ``t0``, ``t1``.
    """
    spans = [(float(s.starting_time or 0.0), float(s.starting_time or 0.0) + s.data.shape[0] / float(s.rate))
             for s in series]  # fmt: skip
    parts = [read_raw_window(s, t0, t1, channels, max_points) for s, (a, b) in zip(series, spans, strict=True)
             if a < t1 and b > t0]  # fmt: skip
    if not parts:  # a window in a gap or outside the recording: nothing to draw, but the same keys
        parts = [read_raw_window(series[0], t0, t0, channels, max_points)]
    times: list = []
    values: list = []
    for k, part in enumerate(parts):
        if k:
            times.append([(times[-1][-1] + part["time_s"][0]) / 2 if len(part["time_s"]) else times[-1][-1]])
            values.append(np.full((1, part["data_uv"].shape[1]), np.nan))
        times.append(part["time_s"])
        values.append(part["data_uv"])
    out = dict(parts[0])
    out["time_s"] = np.concatenate(times)
    out["data_uv"] = np.concatenate(values)
    out["decimated"] = any(p["decimated"] for p in parts)
    out["start_s"] = spans[0][0]
    out["duration_s"] = spans[-1][1] - spans[0][0]
    out["gaps"] = [(spans[k][1], spans[k + 1][0]) for k in range(len(spans) - 1)]
    out["t0"], out["t1"] = max(t0, spans[0][0]), min(t1, spans[-1][1])
    return out


def raw_window(
    path,
    t0: float,
    t1: float,
    channels=None,
    max_points: int = 4000,
    series_name: str | None = None,
    direct: bool = True,
):
    """The raw signal of ``[t0, t1)`` (session clock, s), read from the file window only and downsampled.

    Read with h5py by object path, without building the file's pynwb objects (the tests compare it with a
    reader through them).

    Parameters
    ----------
    path
        The session's NWB file.
    t0, t1
        The window; clipped to the recording.
    channels
        Column indices of the series to return (default: all).
    max_points
        About this many points per channel are returned: at full resolution when the window holds
        fewer samples, else two per bin (min and max) — see :func:`minmax_decimate`.
    series_name
        One ElectricalSeries in acquisition (default: all of them, one per recorded segment, joined on the
        session clock by :func:`join_windows`).
    direct
        Decompress the chunks with the fastest decoder installed (direct chunk reads) where the layout
        allows; False: slice with h5py (the reference).

    Returns
    -------
    dict
        ``time_s`` (m,), ``data_uv`` (m, n_channels) in µV (``conversion``, ``channel_conversion`` and
        ``offset`` applied; a NaN row at each gap between segments), ``channels`` (names), ``groups``
        (electrode group per channel), ``decimated``, ``rate_hz``, ``start_s`` and ``duration_s`` (of the
        recording, gaps included), ``gaps`` (pairs of times), ``t0``, ``t1``, ``events``
        (DataFrame of events starting in the window), ``injection_time_s`` (None when outside the
        window or absent) and ``injection_label``.

    Raises
    ------
    LookupError
        When the file has no raw ElectricalSeries (converted with ``--no-raw``).
    """
    f = open_h5(path)
    with lock:
        layout = _layout(f, series_name)
        out = join_windows([info.series(f, direct) for info in layout.series], t0, t1, channels, max_points)
        out["channels"] = [layout.channels[c] for c in out["channel_index"]]
        out["groups"] = [layout.groups[c] for c in out["channel_index"]]
        out["events"] = _events(layout.events, t0, t1)
    injection, label = layout.injection
    out["injection_time_s"] = injection if injection is not None and t0 <= injection < t1 else None
    out["injection_label"] = label
    return out


class _Layout:
    """What :func:`raw_window` reads of a file besides the samples, as plain values (no h5py object).

    The series' timing and scaling, the channels' names and groups, the events and the injection.
    """

    def __init__(self, f, series_name: str | None):
        groups = [f[ACQUISITION_PATH][series_name]] if series_name is not None else h5tables.raw_series(f)
        if not groups:
            name = Path(file_key(f)[0]).name
            raise LookupError(f"{name}: no raw ElectricalSeries in acquisition (converted without raw data)")
        self.series = [_SeriesInfo(g) for g in groups]
        electrodes = groups[0]["electrodes"]
        rows = np.asarray(electrodes[()], dtype=np.int64)
        table = f[electrodes.attrs["table"]]
        names = h5read.column(table, "channel_name") if "channel_name" in h5tables.colnames(table) else rows
        n_rows = len(table["id"])
        in_groups = h5read.column(table, "group_name") if "group_name" in h5tables.colnames(table) else [""] * n_rows
        self.channels = [str(names[r]) for r in rows]  # per column of the series
        self.groups = [str(in_groups[r]) for r in rows]
        self.events = _event_tables(f)
        self.injection = h5tables.injection(f)


#: Layouts of the files :func:`raw_window` read last.
_layouts: OrderedDict[tuple, _Layout] = OrderedDict()


def _layout(f, series_name: str | None) -> _Layout:
    """The :class:`_Layout` of the open file ``f``, read once per file name, modification time and series.

    The traces view reads a window per pan or zoom: reading the electrodes table, the events and the
    injection again each time took ~5 ms of a ~45 ms window (16 channels, 10 s at 30 kHz). Only plain values
    are kept: an h5py object kept past its file's closing (the file cache closes files) would decrement,
    when freed, the reference count of an HDF5 id reused meanwhile.
    """
    key = (*file_key(f), series_name)
    layout = _layouts.get(key)
    if layout is None:
        layout = _layouts[key] = _Layout(f, series_name)
        while len(_layouts) > 2 * MAX_OPEN_FILES:
            _layouts.popitem(last=False)
    _layouts.move_to_end(key)
    return layout
