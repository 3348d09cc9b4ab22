"""Write a tetrode session in the Open Ephys GUI 0.6 binary format, and map its sample clocks.

Design decision: the writer takes the signal as chunks (from :mod:`nwb_ketamine.simulate.extracellular`)
and appends them, so memory stays bounded whatever the duration. The layout is what the GUI 0.6 Record
Node writes and neo's ``OpenEphysBinaryRawIO`` reads::

    <date_time>/Record Node 101/settings.xml
    <date_time>/Record Node 101/experiment1/recording1/
        structure.oebin  sync_messages.txt
        continuous/Acquisition_Board-100.Rhythm Data/{continuous.dat, sample_numbers.npy, timestamps.npy}
        events/Acquisition_Board-100.Rhythm Data/TTL/{states, sample_numbers, timestamps, full_words}.npy

Sample numbers start where acquisition was when recording started (not at 0), as on a real rig; the
ground truth gives spike and event times from the first recorded sample.

Several recordings (``write_openephys(..., recordings=...)``): when the experimenter stops and restarts
recording while acquisition keeps running, the GUI writes ``recording1``, ``recording2``... in the same
``experiment1`` folder, and the sample numbers (and ``timestamps.npy``) of each recording continue on
the same acquisition clock, so the pause is visible as a jump in sample numbers. neo's
``OpenEphysBinaryRawIO`` reads each recording as one segment whose ``t_start`` is its first sample
number over the sampling rate. The writer takes the recorded samples as one stream of chunks (the
recordings one after the other) and cuts it at the recording boundaries.

Session clock: 0 is the first sample of ``recording1``; a sample ``i`` of recording ``k`` is at
``(first_sample_k - first_sample_1 + i) / fs`` s. A phy/Kilosort sorting of such a session counts
samples of the *concatenation* of the recordings' ``continuous.dat`` files in recording order (Kilosort
sorts one binary file, and labs concatenate the recordings into it; SpikeInterface's
``concatenate_recordings`` does the same): ``spike_times.npy`` value ``c`` is sample ``c`` of recording 1
when ``c < n_1``, else sample ``c - n_1`` of recording 2, and so on. To map it to the session clock, add
the summed pause lengths before that recording (:func:`concatenated_to_session`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np

from .parameters import InVivoParameters

STREAM_FOLDER = "Acquisition_Board-100.Rhythm Data"
RECORD_NODE = "Record Node 101"


def recording_folder(root: Path, recording: int = 1) -> Path:
    """The ``recording<N>`` folder inside an Open Ephys session folder (``recording1`` by default).

    Parameters
    ----------
    root
        The session folder.
    recording
        Recording number (1-based).
    """
    return Path(root) / RECORD_NODE / "experiment1" / f"recording{recording}"


def stream_folder(root: Path, recording: int = 1) -> Path:
    """The continuous stream folder (holds ``continuous.dat``) of a recording of a session folder.

    Parameters
    ----------
    root
        The session folder.
    recording
        Recording number (1-based).
    """
    return recording_folder(root, recording) / "continuous" / STREAM_FOLDER


def concatenated_to_session(samples: np.ndarray, recordings: Sequence[tuple[int, int]]) -> np.ndarray:
    """Map samples of the concatenated recordings (what Kilosort sorts) to the session clock.

    Parameters
    ----------
    samples
        Sample indices into the concatenation of the recordings, in recording order.
    recordings
        ``(start, n_samples)`` of each recording, ``start`` in samples of the session clock (0 is the
        first sample of the first recording), as given to :func:`write_openephys`.

    Returns
    -------
    numpy.ndarray
        The same samples counted on the session clock (int64).

    Examples
    --------
    >>> concatenated_to_session(np.array([0, 99, 100]), [(0, 100), (150, 50)]).tolist()
    [0, 99, 150]
    """
    samples = np.asarray(samples, dtype=np.int64)
    starts = np.array([r[0] for r in recordings], dtype=np.int64)
    ends = np.cumsum([r[1] for r in recordings], dtype=np.int64)
    k = np.searchsorted(ends, samples, side="right")
    if samples.size and k.max() >= len(recordings):
        raise ValueError(f"sample {int(samples.max())} is beyond the {int(ends[-1])} recorded samples")
    return samples - (ends - np.array([r[1] for r in recordings]))[k] + starts[k]


def session_to_concatenated(samples: np.ndarray, recordings: Sequence[tuple[int, int]]) -> np.ndarray:
    """Inverse of :func:`concatenated_to_session`; every sample must fall inside a recording.

    Parameters
    ----------
    samples
        Sample indices on the session clock.
    recordings
        ``(start, n_samples)`` of each recording on the session clock, in order.

    Examples
    --------
    >>> session_to_concatenated(np.array([0, 99, 150]), [(0, 100), (150, 50)]).tolist()
    [0, 99, 100]
    """
    samples = np.asarray(samples, dtype=np.int64)
    starts = np.array([r[0] for r in recordings], dtype=np.int64)
    sizes = np.array([r[1] for r in recordings], dtype=np.int64)
    k = np.searchsorted(starts, samples, side="right") - 1
    if samples.size and (k.min() < 0 or np.any(samples - starts[k] >= sizes[k])):
        raise ValueError("a sample falls outside every recording")
    return samples - starts[k] + (np.cumsum(sizes) - sizes)[k]


def _oebin(n_channels: int, params: InVivoParameters) -> dict:
    channels = [
        {
            "channel_name": f"CH{i + 1}",
            "description": "Headstage data channel",
            "identifier": "genericdata.continuous",
            "history": "Acquisition Board -> Record Node",
            "bit_volts": params.bit_volts,
            "units": "uV",
            "source_processor_index": i,
            "recorded_processor_index": i,
        }
        for i in range(n_channels)
    ]
    return {
        "GUI version": "0.6.7",
        "continuous": [
            {
                "folder_name": f"{STREAM_FOLDER}/",
                "sample_rate": params.sampling_rate_hz,
                "source_processor_name": "Acquisition Board",
                "source_processor_id": 100,
                "stream_name": "Rhythm Data",
                "recorded_processor": "Record Node",
                "recorded_processor_id": 101,
                "num_channels": n_channels,
                "channels": channels,
            }
        ],
        "events": [
            {
                "folder_name": f"{STREAM_FOLDER}/TTL/",
                "channel_name": "Acquisition Board TTL Input",
                "description": "Digital inputs of the acquisition board",
                "identifier": "acquisition_board.events",
                "sample_rate": params.sampling_rate_hz,
                "type": "int16",
                "source_processor": "Acquisition Board",
                "stream_name": "Rhythm Data",
                "initial_state": 0,
            }
        ],
        "spikes": [],
    }


def _settings_xml(n_channels: int, start_time: datetime, params: InVivoParameters) -> str:
    """A minimal GUI 0.6 settings.xml: the start date (local wall-clock time) and the signal chain."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>

<SETTINGS>
  <INFO>
    <VERSION>0.6.7</VERSION>
    <PLUGIN_API_VERSION>8</PLUGIN_API_VERSION>
    <DATE>{start_time.strftime("%d %b %Y %H:%M:%S")}</DATE>
    <OS>Linux</OS>
    <MACHINE name="tetrode-rig"/>
  </INFO>
  <SIGNALCHAIN>
    <PROCESSOR name="Acquisition Board" insertionPoint="0" pluginName="Acquisition Board" type="4" index="0"
               libraryName="Rhythm Plugins" libraryVersion="1" processorType="2" nodeId="100">
      <STREAM name="Rhythm Data" description="Headstage data" sample_rate="{params.sampling_rate_hz}"
              channel_count="{n_channels}"/>
    </PROCESSOR>
    <PROCESSOR name="Record Node" insertionPoint="1" pluginName="Record Node" type="0" index="1"
               libraryName="" libraryVersion="" processorType="8" nodeId="101"/>
  </SIGNALCHAIN>
</SETTINGS>
"""


def _pieces(
    chunks: Iterator[tuple[int, np.ndarray]],
    sizes: Sequence[int],
    inv_bit: np.float32,
    progress: Callable[[int], None] | None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Quantise the chunks and cut them at recording boundaries: yields ``(recording index, int16 codes)``."""
    ends = np.cumsum(sizes)
    written = 0
    for c0, data in chunks:
        if c0 != written:
            raise ValueError(f"chunk starts at sample {c0}, expected {written}")
        if written + data.shape[0] > ends[-1]:
            raise ValueError(f"chunks hold more than the {int(ends[-1])} recorded samples")
        codes = np.clip(np.rint(data * inv_bit), -32768, 32767).astype("<i2")
        i = 0
        while i < codes.shape[0]:
            k = int(np.searchsorted(ends, written + i, side="right"))
            m = min(codes.shape[0] - i, int(ends[k]) - written - i)
            yield k, codes[i : i + m]
            i += m
        written += codes.shape[0]
        if progress is not None:
            progress(codes.shape[0])
    if written != ends[-1]:
        raise ValueError(f"chunks hold {written} samples, expected {int(ends[-1])}")


def write_openephys(
    root: Path,
    chunks: Iterator[tuple[int, np.ndarray]],
    n_samples: int,
    n_channels: int,
    first_sample: int,
    ttl_samples: list[tuple[int, int]],
    start_time: datetime,
    params: InVivoParameters,
    progress: Callable[[int], None] | None = None,
    recordings: Sequence[tuple[int, int]] | None = None,
) -> Path:
    """Write a session in the Open Ephys 0.6 binary format: one recording, or several with pauses.

    Parameters
    ----------
    root
        Session folder to create (the GUI names it after the start date and time).
    chunks
        ``(first_sample, signal_uV)`` chunks covering the recorded samples in order; with several
        recordings, the recordings one after the other (``first_sample`` counts recorded samples).
    n_samples, n_channels
        Number of recorded samples (all recordings together) and of channels.
    first_sample
        Acquisition sample number of the first recorded sample.
    ttl_samples
        ``(rising, falling)`` edges of TTL pulses on ``params.ttl_line``, in samples of the session clock
        (from the first recorded sample); a pulse goes to the recording that holds both its edges.
    start_time
        Time of the first sample, timezone-aware (``sync_messages.txt`` gets it in UTC milliseconds,
        ``settings.xml`` as local wall-clock time, as the GUI writes them).
    params
        Sampling rate and bit size.
    progress
        Called with the number of samples written after each chunk.
    recordings
        ``(start, n)`` of each recording in samples of the session clock, in order and not overlapping;
        the first starts at 0 and the sizes sum to ``n_samples``. Default: one recording
        ``[(0, n_samples)]``. Recording ``k`` (from 1) is written to ``recording<k>`` with sample
        numbers ``first_sample + start + arange(n)``: the acquisition clock runs on during a pause.

    Returns
    -------
    Path
        The ``continuous.dat`` file of the first recording.

    Raises
    ------
    ValueError
        If the chunks, recordings or TTL pulses are inconsistent.
    """
    fs = params.sampling_rate_hz
    recordings = [(0, n_samples)] if recordings is None else [(int(a), int(n)) for a, n in recordings]
    if recordings[0][0] != 0 or sum(n for _, n in recordings) != n_samples:
        raise ValueError(f"recordings {recordings} must start at 0 and hold the {n_samples} samples")
    for (a0, n0), (a1, _) in zip(recordings, recordings[1:], strict=False):
        if a1 < a0 + n0:
            raise ValueError(f"recording at sample {a1} starts before the previous one ends ({a0 + n0})")
    for rising, falling in ttl_samples:
        if not any(a <= rising and falling < a + n for a, n in recordings):
            raise ValueError(f"TTL pulse ({rising}, {falling}) is not inside one recording")

    (Path(root) / RECORD_NODE).mkdir(parents=True, exist_ok=True)
    (Path(root) / RECORD_NODE / "settings.xml").write_text(_settings_xml(n_channels, start_time, params))
    for k, (a, n) in enumerate(recordings, start=1):
        rec = recording_folder(root, k)
        stream_folder(root, k).mkdir(parents=True, exist_ok=True)
        ttl = rec / "events" / STREAM_FOLDER / "TTL"
        ttl.mkdir(parents=True, exist_ok=True)
        (rec / "structure.oebin").write_text(json.dumps(_oebin(n_channels, params), indent=4))
        epoch_ms = int(start_time.timestamp() * 1000) + int(round(a / fs * 1000))
        (rec / "sync_messages.txt").write_text(
            f"Software Time (milliseconds since midnight Jan 1st 1970 UTC): {epoch_ms}\n"
            f"Start Time for Acquisition Board (100) - Rhythm Data @ {int(fs)} Hz: {first_sample + a}\n"
        )
        pulses = [(r, f) for r, f in ttl_samples if a <= r and f < a + n]
        edges = np.array([s for pair in pulses for s in pair], dtype=np.int64) + first_sample
        states = np.tile(np.array([params.ttl_line, -params.ttl_line], dtype=np.int16), len(pulses))
        words = np.tile(np.array([1 << (params.ttl_line - 1), 0], dtype=np.uint64), len(pulses))
        np.save(ttl / "states.npy", states)
        np.save(ttl / "sample_numbers.npy", edges)
        np.save(ttl / "timestamps.npy", edges / fs)
        np.save(ttl / "full_words.npy", words)

    # Plain appends, not memmaps: dirty memmap pages would count against the memory bound.
    pieces = _pieces(chunks, [n for _, n in recordings], np.float32(1.0 / params.bit_volts), progress)
    piece = next(pieces, None)
    for k, (a, n) in enumerate(recordings):
        cont = stream_folder(root, k + 1)
        with (
            open(cont / "continuous.dat", "wb") as dat,
            open(cont / "sample_numbers.npy", "wb") as numbers_file,
            open(cont / "timestamps.npy", "wb") as times_file,
        ):
            for f, dtype in ((numbers_file, "<i8"), (times_file, "<f8")):
                np.lib.format.write_array_header_1_0(f, {"descr": dtype, "fortran_order": False, "shape": (n,)})
            s0 = first_sample + a
            while piece is not None and piece[0] == k:
                codes = piece[1]
                dat.write(codes.tobytes())
                numbers = np.arange(s0, s0 + codes.shape[0], dtype="<i8")
                numbers_file.write(numbers.tobytes())
                times_file.write((numbers / fs).astype("<f8").tobytes())
                s0 += codes.shape[0]
                piece = next(pieces, None)
    return stream_folder(root, 1) / "continuous.dat"


def quantised(signal_uv: np.ndarray, params: InVivoParameters) -> np.ndarray:
    """The signal as readers see it: int16 codes times ``bit_volts``, in uV.

    Parameters
    ----------
    signal_uv
        The float signal, in uV.
    params
        The in vivo parameters (``bit_volts``, uV per code).
    """
    inv_bit = np.float32(1.0 / params.bit_volts)
    codes = np.clip(np.rint(signal_uv * inv_bit), -32768, 32767).astype(np.int16)
    return codes.astype(np.float64) * params.bit_volts
