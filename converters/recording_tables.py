"""The raw recording's tables in an NWB file: its segments, the gaps between them and its event channels."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from pynwb import NWBFile
from pynwb.epoch import TimeIntervals
from pynwb.event import EventsTable

from nwb_ketamine.converters.neo_raw import RawRecording
from nwb_ketamine.filelayout import EVENTS_PREFIX, RECORDING_GAPS, RECORDING_SEGMENTS


def add_segments(nwbfile: NWBFile, raw: RawRecording, names: list[str], sizes: list[int], include_raw: bool) -> None:
    """Add the ``recording_segments`` table and, with several segments, the ``recording_gaps`` table.

    Parameters
    ----------
    nwbfile
        The file being built.
    raw
        The raw recording.
    names
        The ElectricalSeries name of each segment.
    sizes
        Samples per channel converted of each segment.
    include_raw
        The raw series are stored (else ``series_name`` is empty).
    """
    rate = raw.sampling_rate_hz
    offsets = raw.segment_offsets_s
    files = "; ".join(str(Path(f).relative_to(raw.path)) if raw.path.is_dir() else Path(f).name
                      for f in raw.source_files)  # fmt: skip
    segments = TimeIntervals(
        name=RECORDING_SEGMENTS,
        description=(
            "The parts of the raw recording as the reader split it (at gaps or stop/restart), each stored "
            "as its own ElectricalSeries, with what it was read from."
        ),
    )
    for column, description in (
        ("series_name", "the ElectricalSeries in acquisition holding this segment (empty: raw not stored)"),
        ("segment", "segment index of the reader (0-based)"),
        ("n_samples", "samples per channel written for this segment"),
        ("stream", "the reader's signal stream (name and id)"),
        ("reader", "the reader, its version and options"),
        ("source_files", "files of the raw folder the reader opens, relative to it"),
    ):
        segments.add_column(column, description)
    for k, (name, n) in enumerate(zip(names, sizes, strict=True)):
        segments.add_interval(
            start_time=float(offsets[k]),
            stop_time=float(offsets[k] + n / rate),
            series_name=name if include_raw else "",
            segment=k,
            n_samples=int(n),
            stream=f"{raw.stream_name} (id {raw.stream_id})",
            reader=raw.reader,
            source_files=files,
        )
    nwbfile.add_time_intervals(segments)
    if raw.segment_count > 1:
        gaps = TimeIntervals(
            name=RECORDING_GAPS,
            description="Time between the end of one recorded segment and the start of the next: no samples.",
        )
        gaps.add_column("after_segment", "the segment the gap follows")
        for k in range(raw.segment_count - 1):
            end = offsets[k] + raw.segment_sizes[k] / rate
            gaps.add_interval(start_time=float(end), stop_time=float(offsets[k + 1]), after_segment=k)
        nwbfile.add_time_intervals(gaps)


def add_events(nwbfile: NWBFile, raw: RawRecording, end_s: float, stub: bool) -> None:
    """Add one ``EventsTable`` per event channel of the recording, times on the session clock.

    Parameters
    ----------
    nwbfile, raw
        The file being built and the recording whose event channels it gets.
    end_s
        End of the converted recording (session clock).
    stub
        Only the first seconds are converted: events after ``end_s`` are left out.
    """
    used: set[str] = set()
    for event in raw.events:
        keep = np.ones(event.times_s.size, dtype=bool)
        if stub:
            keep = event.times_s < end_s
        times = np.asarray(event.times_s, dtype=np.float64)[keep]
        if not times.size:
            continue
        order = np.argsort(times, kind="stable")
        name = re.sub(r"[^A-Za-z0-9_]+", "_", f"{EVENTS_PREFIX}{event.name}").strip("_")
        while name in used:
            name += "_"
        used.add(name)
        early = int(np.count_nonzero(times < 0))
        note = (
            f" {early} event(s) precede the recording's first sample (the session start): their times are "
            "negative, as the acquisition clock recorded them."
            if early
            else ""
        )
        table = EventsTable(
            name=name,
            description=f"Events of channel {event.name!r} recorded by the acquisition system ({raw.format}); "
            f"times on the session clock (the first raw sample is 0).{note}",
            source_description=f"Acquisition system, read with {raw.reader}",
        )
        table.add_column("label", "event label, TTL line or event string as the system recorded it")
        durations = None if event.durations_s is None else np.asarray(event.durations_s)[keep][order]
        for i, (t, label) in enumerate(zip(times[order], np.asarray(event.labels)[keep][order], strict=True)):
            extra = {} if durations is None else {"duration": float(durations[i])}
            table.add_event(timestamp=float(t), label=str(label), **extra)
        nwbfile.add_events_table(table)
