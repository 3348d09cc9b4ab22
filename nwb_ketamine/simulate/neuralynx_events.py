"""Write a Neuralynx ``Events.nev`` file: recording start and stop events and TTL input events.

Design decision: the file is what Cheetah 6 writes (the 16 kB text header of
:mod:`nwb_ketamine.simulate.neuralynx`, then records), checked against real Pegasus files and neo's
``NeuralynxRawIO``. ``.nev`` records are 184 bytes: int16 reserved, system id, data size (2), uint64
timestamp (us), int16 event id, TTL value, CRC, two spares, 8 int32 extras, 128-byte event string.
Cheetah writes "Starting Recording" / "Stopping Recording" events and one event per TTL port change
("TTL Input on AcqSystem1_0 board 0 port 0 value (0x0001)." then "(0x0000)."). The event ids (19 for
recording start and stop, 11 for TTL input) are this simulator's choice; neo groups events by
``(event id, TTL value)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from .neuralynx import ACQUISITION_SYSTEM, APPLICATION, original_file_name, text_header

NEV_DTYPE = np.dtype(
    [
        ("reserved", "<i2"),
        ("system_id", "<i2"),
        ("data_size", "<i2"),
        ("timestamp", "<u8"),
        ("event_id", "<i2"),
        ("ttl_input", "<i2"),
        ("crc_check", "<i2"),
        ("dummy1", "<i2"),
        ("dummy2", "<i2"),
        ("extra", "<i4", (8,)),
        ("event_string", "S128"),
    ]
)
RECORDING_EVENT_ID = 19
TTL_EVENT_ID = 11


@dataclass(frozen=True)
class NevEvent:
    """One event record: when (acquisition clock, us), its id, TTL value and string."""

    timestamp_us: int
    event_id: int
    ttl: int
    text: str


def ttl_events(rising_us: int, falling_us: int, port: int = 0, bit: int = 0) -> list[NevEvent]:
    """The two events Cheetah writes for a TTL pulse on one input bit: the port value goes up, then to 0.

    Parameters
    ----------
    rising_us, falling_us
        Timestamps of the rising and falling edges, in us on the acquisition clock.
    port
        Input port number.
    bit
        Input bit of the port.
    """
    value = 1 << bit
    return [
        NevEvent(
            rising_us, TTL_EVENT_ID, value, f"TTL Input on AcqSystem1_0 board 0 port {port} value (0x{value:04X})."
        ),
        NevEvent(falling_us, TTL_EVENT_ID, 0, f"TTL Input on AcqSystem1_0 board 0 port {port} value (0x0000)."),
    ]


def recording_events(sections_us: Sequence[tuple[int, int]]) -> list[NevEvent]:
    """The events "Starting Recording" at each section's first sample and "Stopping Recording" at its last sample.

    Parameters
    ----------
    sections_us
        ``(first_us, last_us)`` timestamps of each recorded section's first and last sample, in us.
    """
    events = []
    for first_us, last_us in sections_us:
        events.append(NevEvent(first_us, RECORDING_EVENT_ID, 0, "Starting Recording"))
        events.append(NevEvent(last_us, RECORDING_EVENT_ID, 0, "Stopping Recording"))
    return events


def write_nev(path: Path, events: Sequence[NevEvent], start_time: datetime, stop_time: datetime) -> Path:
    """Write an ``Events.nev`` file with the events in time order.

    Parameters
    ----------
    path
        File to create.
    events
        The events; written sorted by timestamp.
    start_time, stop_time
        Wall-clock times for the header's TimeCreated and TimeClosed.

    Returns
    -------
    Path
        The file.
    """
    lines = [
        ("FileType", "Event"),
        ("RecordSize", str(NEV_DTYPE.itemsize)),
        ("ApplicationName", APPLICATION),
        ("AcquisitionSystem", ACQUISITION_SYSTEM),
        ("AcqEntName", "Events"),
    ]
    ordered = sorted(events, key=lambda e: e.timestamp_us)
    records = np.zeros(len(ordered), dtype=NEV_DTYPE)
    records["data_size"] = 2
    records["timestamp"] = [e.timestamp_us for e in ordered]
    records["event_id"] = [e.event_id for e in ordered]
    records["ttl_input"] = [e.ttl for e in ordered]
    records["event_string"] = [e.text.encode("latin-1") for e in ordered]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        text_header(lines, original_file_name(start_time, path.name), start_time, stop_time) + records.tobytes()
    )
    return path
