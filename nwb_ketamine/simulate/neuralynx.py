"""Write Neuralynx ``.ncs`` files (continuously sampled channels) and predict neo's stream names for them.

Design decision: the files are what Cheetah 6 (file version 3.4, a Digital Lynx SX) writes, checked
against real Pegasus files and neo's ``NeuralynxRawIO``:

* every file starts with a 16 kB text header (``######## Neuralynx Data File Header`` then ``-Key value``
  lines ending in CRLF, padded with NUL bytes). neo reads ``-SamplingFrequency``, ``-ADBitVolts`` (volts
  per count), ``-AcqEntName`` (channel name), ``-ADChannel`` (channel id), ``-InputRange`` (uV),
  ``-InputInverted``, the ``-Dsp...`` filter keys, ``-TimeCreated`` and ``-AcquisitionSystem`` (whose
  second word, ``DigitalLynxSX``, selects how neo detects gaps). ``-DspFilterDelay_µs`` is UTF-8, as
  Pegasus writes it. ``Events.nev`` (:mod:`nwb_ketamine.simulate.neuralynx_events`) has the same header;
* ``.ncs`` records are 1044 bytes: uint64 timestamp (us, of the record's first sample), uint32 channel
  number, uint32 sampling frequency, uint32 number of valid samples, 512 int16 samples. A record covers
  512 samples whatever the rate (16 ms at 32 kHz, 256 ms at 2 kHz); the last record before a stop of
  recording is partly valid (the rest is zero-filled), and the next record's timestamp jumps by the
  pause. Timestamps are on the acquisition clock, which started before recording;
* ``-InputInverted True`` (the Digital Lynx default): a count ``c`` means ``-c * ADBitVolts`` volts, and
  neo reports a negative gain. Writing the negated codes keeps the physical signal right.

Channels at different rates (or ranges, or filters) become different neo streams, named
``stream<i>_<rate>Hz_<range mV>mVRange_DSPFilter<j>`` (:func:`neo_stream_names` reproduces neo 0.14's
rule). Every stream of a folder must have the same sections (neo refuses the folder otherwise), so
pauses are on a 1 ms grid, which is whole samples and whole microseconds at 32 kHz and 2 kHz alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

HEADER_SIZE = 16384
RECORD_SAMPLES = 512
AD_MAX_VALUE = 32767
NCS_DTYPE = np.dtype(
    [
        ("timestamp", "<u8"),
        ("channel_id", "<u4"),
        ("sample_rate", "<u4"),
        ("nb_valid", "<u4"),
        ("samples", "<i2", (RECORD_SAMPLES,)),
    ]
)
APPLICATION = 'Cheetah "6.4.2"'
ACQUISITION_SYSTEM = "AcqSystem1 DigitalLynxSX"


@dataclass(frozen=True)
class NcsChannel:
    """One continuously sampled channel as its ``.ncs`` header describes it."""

    name: str  # -AcqEntName and the file name (``<name>.ncs``)
    ad_channel: int  # -ADChannel, neo's channel id
    sampling_rate_hz: int
    input_range_uv: int  # -InputRange: the count range is +-InputRange uV
    low_cut_hz: float
    high_cut_hz: float
    high_cut_taps: int
    filter_delay_us: int
    inverted: bool = True

    @property
    def ad_bit_volts(self) -> float:
        """Volts per count (``-ADBitVolts``)."""
        return self.input_range_uv * 1e-6 / AD_MAX_VALUE

    @property
    def gain_uv(self) -> float:
        """Microvolts per count as a reader must apply it: negative when the input is inverted."""
        return self.ad_bit_volts * 1e6 * (-1.0 if self.inverted else 1.0)

    def codes(self, signal_uv: np.ndarray) -> np.ndarray:
        """The int16 counts Cheetah stores for a signal in uV (rounded, clipped, sign-flipped if inverted).

        Parameters
        ----------
        signal_uv
            The signal, in uV.
        """
        return np.clip(np.rint(np.asarray(signal_uv, dtype=np.float64) / self.gain_uv), -32768, 32767).astype("<i2")


def _number(value: float) -> str:
    return f"{value:g}"


def text_header(lines: list[tuple[str, str]], original: str, opened: datetime, closed: datetime) -> bytes:
    """A 16 kB Neuralynx text header (``.ncs`` and ``.nev``): the banner, ``-Key value`` CRLF lines, NUL padding.

    Parameters
    ----------
    lines
        ``(key, value)`` header lines; the first is written before the file identity lines, the others after.
    original
        The ``-OriginalFileName`` value.
    opened, closed
        When the file was opened and closed (local wall-clock time).
    """
    first = [
        ("FileVersion", "3.4"),
        ("FileUUID", str(uuid.uuid5(uuid.NAMESPACE_URL, f"{original}|{opened.isoformat()}"))),
        ("SessionUUID", str(uuid.uuid5(uuid.NAMESPACE_URL, opened.isoformat()))),
        ("ProbeName", ""),
        ("OriginalFileName", f'"{original}"'),
        ("TimeCreated", opened.strftime("%Y/%m/%d %H:%M:%S")),
        ("TimeClosed", closed.strftime("%Y/%m/%d %H:%M:%S")),
    ]
    text = "######## Neuralynx Data File Header\r\n"
    text += "".join(f"-{key} {value}\r\n" for key, value in lines[:1] + first + lines[1:])
    data = text.encode("utf-8")
    if len(data) > HEADER_SIZE:
        raise ValueError(f"header of {original} is {len(data)} bytes, more than {HEADER_SIZE}")
    return data + b"\x00" * (HEADER_SIZE - len(data))


def original_file_name(start_time: datetime, name: str) -> str:
    """The ``-OriginalFileName`` Cheetah records: its data folder on the rig's Windows PC.

    Parameters
    ----------
    start_time
        Start of the recording (local wall-clock time); names the data folder.
    name
        The file name, e.g. ``CSC1.ncs``.
    """
    return f"C:\\CheetahData\\{start_time.strftime('%Y-%m-%d_%H-%M-%S')}\\{name}"


def _ncs_header(channel: NcsChannel, start_time: datetime, stop_time: datetime) -> bytes:
    """The 16 kB header of one ``.ncs`` file, as Cheetah 6.4 writes it (times are local wall-clock)."""
    lines = [
        ("FileType", "NCS"),
        ("RecordSize", str(NCS_DTYPE.itemsize)),
        ("ApplicationName", APPLICATION),
        ("AcquisitionSystem", ACQUISITION_SYSTEM),
        ("ReferenceChannel", '"Source 01 Reference 1"'),
        ("SamplingFrequency", str(channel.sampling_rate_hz)),
        ("ADMaxValue", str(AD_MAX_VALUE)),
        ("ADBitVolts", f"{channel.ad_bit_volts:.24f}"),
        ("AcqEntName", channel.name),
        ("NumADChannels", "1"),
        ("ADChannel", str(channel.ad_channel)),
        ("InputRange", str(channel.input_range_uv)),
        ("InputInverted", "True" if channel.inverted else "False"),
        ("DSPLowCutFilterEnabled", "True"),
        ("DspLowCutFrequency", _number(channel.low_cut_hz)),
        ("DspLowCutNumTaps", "0"),
        ("DspLowCutFilterType", "DCO"),
        ("DSPHighCutFilterEnabled", "True"),
        ("DspHighCutFrequency", _number(channel.high_cut_hz)),
        ("DspHighCutNumTaps", str(channel.high_cut_taps)),
        ("DspHighCutFilterType", "FIR"),
        ("DspDelayCompensation", "Enabled"),
        ("DspFilterDelay_µs", str(channel.filter_delay_us)),
    ]
    return text_header(lines, original_file_name(start_time, f"{channel.name}.ncs"), start_time, stop_time)


def record_timestamps(first_timestamp_us: int, start: int, n: int, sampling_rate_hz: int) -> np.ndarray:
    """Timestamps (us) of the records of a section of ``n`` samples starting at sample ``start``.

    Parameters
    ----------
    first_timestamp_us
        Acquisition-clock time of sample 0 of the session clock.
    start, n
        First sample (on the session clock) and number of samples of the section.
    sampling_rate_hz
        Rate of the channel.
    """
    offsets = start + RECORD_SAMPLES * np.arange(-(-n // RECORD_SAMPLES), dtype=np.int64)
    return first_timestamp_us + np.rint(offsets * (1e6 / sampling_rate_hz)).astype(np.int64)


def _check_sections(sections: Sequence[tuple[int, int]], sampling_rate_hz: int) -> None:
    """Refuse sections that overlap or do not start and end on whole microseconds and samples.

    Raises
    ------
    ValueError
        If a section is empty, overlaps the previous one, or starts or ends off the microsecond grid.
    """
    end = -1
    for start, n in sections:
        if n <= 0 or start < end:
            raise ValueError(f"section ({start}, {n}) is empty or overlaps the previous one")
        for sample in (start, start + n):
            if (sample * 1_000_000) % sampling_rate_hz:
                raise ValueError(f"sample {sample} at {sampling_rate_hz} Hz is not on a whole microsecond")
        end = start + n


def write_ncs_files(
    folder: Path,
    channels: Sequence[NcsChannel],
    chunks: Iterator[tuple[int, np.ndarray]],
    sections: Sequence[tuple[int, int]],
    first_timestamp_us: int,
    start_time: datetime,
    progress: Callable[[int], None] | None = None,
) -> list[Path]:
    """Write channels that share a sampling rate, one ``.ncs`` file each, chunk by chunk.

    Parameters
    ----------
    folder
        Session folder (created if needed).
    channels
        The channels; all must have the same ``sampling_rate_hz``.
    chunks
        ``(first_sample, signal_uV)`` chunks of shape (n, len(channels)) covering the recorded samples
        in order: the sections one after the other (``first_sample`` counts recorded samples).
    sections
        ``(start, n)`` of each stretch recorded without a pause, ``start`` in samples of the session
        clock (0 is the first recorded sample). Section boundaries must fall on whole microseconds.
    first_timestamp_us
        Acquisition-clock timestamp (us) of the first recorded sample.
    start_time
        Wall-clock time of the first recorded sample (headers give local time).
    progress
        Called with the number of samples written after each chunk.

    Returns
    -------
    list of Path
        The written files, in the order of ``channels``.

    Raises
    ------
    ValueError
        If the channels' rates differ, the sections are off the microsecond grid, or the chunks do not
        cover the sections exactly.
    """
    rates = {c.sampling_rate_hz for c in channels}
    if len(rates) != 1:
        raise ValueError(f"channels of one call must share a sampling rate, got {sorted(rates)}")
    fs = rates.pop()
    _check_sections(sections, fs)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    last_start, last_n = sections[-1]
    stop_time = start_time + timedelta(seconds=(last_start + last_n) / fs)
    paths = [folder / f"{c.name}.ncs" for c in channels]
    for path, c in zip(paths, channels, strict=True):
        path.write_bytes(_ncs_header(c, start_time, stop_time))

    times = [record_timestamps(first_timestamp_us, start, n, fs) for start, n in sections]
    ends = np.cumsum([n for _, n in sections])
    carry = np.zeros((0, len(channels)), dtype="<i2")
    section, record_in_section, written = 0, 0, 0
    with ExitStack() as stack:
        files = [stack.enter_context(p.open("ab")) for p in paths]

        def flush(codes: np.ndarray, n_valid: int) -> None:
            """Write whole records of ``codes`` (the last one with ``n_valid`` valid samples)."""
            nonlocal record_in_section
            n_records = -(-codes.shape[0] // RECORD_SAMPLES)
            ts = times[section][record_in_section : record_in_section + n_records]
            for j, (f, c) in enumerate(zip(files, channels, strict=True)):
                records = np.zeros(n_records, dtype=NCS_DTYPE)
                records["timestamp"] = ts
                records["channel_id"] = c.ad_channel
                records["sample_rate"] = fs
                records["nb_valid"] = RECORD_SAMPLES
                records["nb_valid"][-1] = n_valid
                samples = np.zeros(n_records * RECORD_SAMPLES, dtype="<i2")  # invalid samples stay 0
                samples[: codes.shape[0]] = codes[:, j]
                records["samples"] = samples.reshape(n_records, RECORD_SAMPLES)
                f.write(records.tobytes())
            record_in_section += n_records

        for c0, data in chunks:
            if c0 != written:
                raise ValueError(f"chunk starts at sample {c0}, expected {written}")
            if data.shape[1] != len(channels):
                raise ValueError(f"chunk has {data.shape[1]} channels, expected {len(channels)}")
            codes = np.stack([c.codes(data[:, j]) for j, c in enumerate(channels)], axis=1)
            i = 0
            while i < codes.shape[0]:
                if section >= len(sections):
                    raise ValueError(f"chunks hold more than the {int(ends[-1])} recorded samples")
                m = min(codes.shape[0] - i, int(ends[section]) - written - i)
                carry = np.concatenate([carry, codes[i : i + m]])
                i += m
                if written + i == ends[section]:
                    # The section ends (recording stopped): a last, partly valid record.
                    n_valid = carry.shape[0] % RECORD_SAMPLES or RECORD_SAMPLES
                    flush(carry, n_valid)
                    carry = carry[:0]
                    section, record_in_section = section + 1, 0
                else:
                    whole = carry.shape[0] // RECORD_SAMPLES * RECORD_SAMPLES
                    if whole:
                        flush(carry[:whole], RECORD_SAMPLES)
                        carry = carry[whole:]
            written += codes.shape[0]
            if progress is not None:
                progress(codes.shape[0])
    if written != ends[-1]:
        raise ValueError(f"chunks hold {written} samples, expected {int(ends[-1])}")
    return paths


def _neo_filter_params(c: NcsChannel) -> tuple:
    """The header's filter keys as neo 0.14's NlxHeader normalises them, sorted (its stream key)."""

    def _as_number(value: float):
        text = _number(value)
        return float(text) if "." in text else int(text)

    return tuple(
        sorted(
            [
                ("DSPLowCutFilterEnabled", True),
                ("DspLowCutFrequency", _as_number(c.low_cut_hz)),
                ("DspLowCutFilterType", "DCO"),
                ("DspLowCutNumTaps", 0),
                ("DSPHighCutFilterEnabled", True),
                ("DspHighCutFrequency", _as_number(c.high_cut_hz)),
                ("DspHighCutFilterType", "FIR"),
                ("DspHighCutNumTaps", c.high_cut_taps),
                ("DspDelayCompensation", True),
                ("DspFilterDelay_µs", c.filter_delay_us),
            ]
        )
    )


def neo_stream_names(channels: Sequence[NcsChannel]) -> dict[str, str]:
    """The stream name neo 0.14 gives each channel of a folder, by channel name.

    neo groups ``.ncs`` files by (sampling rate, input range, filter settings), orders the groups by
    decreasing rate, numbers the distinct filter settings in sorted order, and names a stream
    ``stream<i>_<rate>Hz_<range in mV>mVRange_DSPFilter<j>``. Channels are taken in file-name order,
    as neo lists the folder.

    Parameters
    ----------
    channels
        Every ``.ncs`` channel of the folder.

    Examples
    --------
    >>> ch = NcsChannel("CSC1", 0, 32000, 1000, 0.1, 9000, 64, 984)
    >>> neo_stream_names([ch])
    {'CSC1': 'stream0_32000Hz_1mVRange_DSPFilter0'}
    """
    ordered = sorted(channels, key=lambda c: f"{c.name}.ncs")
    keys: dict[tuple, list[str]] = {}
    for c in ordered:
        keys.setdefault((float(c.sampling_rate_hz), c.input_range_uv, _neo_filter_params(c)), []).append(c.name)
    filters = {f: i for i, f in enumerate(sorted({k[2] for k in keys}))}
    names = {}
    for i, key in enumerate(sorted(keys, reverse=True, key=lambda k: k[0])):
        name = f"stream{i}_{int(key[0])}Hz_{int(key[1] / 1000)}mVRange_DSPFilter{filters[key[2]]}"
        for channel in keys[key]:
            names[channel] = name
    return names
