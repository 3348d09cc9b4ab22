"""NWB Inspector checks that an in vivo file's units and epochs lie within its recording.

The same invariants the converters enforce on sources (:mod:`nwb_ketamine.converters.source_checks`),
checked on existing files: the recording's extent is that of its ElectricalSeries (``starting_time +
samples / rate``, or the last timestamp), from the earliest start to the latest end; spike times and
epochs may lie one sample outside it. A file without ElectricalSeries (sorting only) is not checked.
Registered with :func:`nwbinspector.register_check` when :mod:`nwb_ketamine.archive.checks` is imported.
"""

from __future__ import annotations

import numpy as np
from nwbinspector import Importance, InspectorMessage, register_check
from pynwb import NWBFile
from pynwb.ecephys import ElectricalSeries


def recording_extent(nwbfile: NWBFile) -> tuple[float, float, float] | None:
    """Start, end (s) and sampling rate of the file's ElectricalSeries together, or None without any.

    Parameters
    ----------
    nwbfile
        The file.

    Returns
    -------
    tuple of float or None
    """
    spans = []
    for series in nwbfile.objects.values():
        if not isinstance(series, ElectricalSeries):
            continue
        n = int(series.data.shape[0])
        if series.rate is not None:
            start = float(series.starting_time or 0.0)
            spans.append((start, start + n / float(series.rate), float(series.rate)))
        elif series.timestamps is not None and n:
            ts = series.timestamps
            rate = (n - 1) / float(ts[-1] - ts[0]) if n > 1 and ts[-1] > ts[0] else 1.0
            spans.append((float(ts[0]), float(ts[-1]) + 1 / rate, rate))
    if not spans:
        return None
    return min(s[0] for s in spans), max(s[1] for s in spans), min(s[2] for s in spans)


@register_check(importance=Importance.CRITICAL, neurodata_type=NWBFile)
def check_times_within_recording(nwbfile: NWBFile) -> list[InspectorMessage] | None:
    """Unit spike times and epochs must lie within the recording (one sample of tolerance).

    Parameters
    ----------
    nwbfile
        The file.

    Returns
    -------
    list of InspectorMessage or None
    """
    extent = recording_extent(nwbfile)
    if extent is None:
        return None
    start, end, rate = extent
    tol = 1.0 / rate
    messages = []
    units = nwbfile.units
    if units is not None and "spike_times" in units.colnames and len(units.spike_times.data):
        times = np.asarray(units.spike_times.data[:], dtype=np.float64)
        lo, hi = float(times.min()), float(times.max())
        if lo < start - tol or hi > end + tol:
            messages.append(
                InspectorMessage(
                    message=f"units: spike times {lo:.6g}..{hi:.6g} s lie outside the recording "
                    f"({start:.6g}..{end:.6g} s, its ElectricalSeries)",
                    object_name="units",
                )
            )
    epochs = nwbfile.epochs
    if epochs is not None and len(epochs):
        first = float(np.min(epochs.start_time.data[:]))
        last = float(np.max(epochs.stop_time.data[:]))
        if first < start - tol or last > end + tol:
            messages.append(
                InspectorMessage(
                    message=f"epochs: {first:.6g}..{last:.6g} s lie outside the recording ({start:.6g}..{end:.6g} s)",
                    object_name="epochs",
                )
            )
    return messages or None
