"""Open Ephys legacy ``.spikes`` files (GUI ≤ 0.6) → :class:`~nwb_ketamine.converters.sorted_units.SortedUnits`.

Design decision: our own parser, because neo 0.14 reports zero spikes for files of GUI 0.6.7. The layout
was checked against the real files in ``../shared/realdata`` and Open Ephys' ``OpenEphys.py``
(analysis-tools): a 1024-byte text header (``header.num_channels``, ``header.sampleRate``,
``header.samplesPerSpike``...), then fixed-size little-endian records::

    uint8 eventType, int64 timestamp, int64 software timestamp, uint16 sourceID, uint16 nChannels (n),
    uint16 nSamples (m), uint16 sortedID, uint16 electrodeID, uint16 channel, 3 uint8 colour,
    2 float32 PC projections, uint16 sampleFreq, n*m uint16 samples (channel-major),
    n float32 gains, n uint16 thresholds, uint16 recordingNumber

(42 + 2nm + 6n + 2 bytes; the header's own description omits ``sampleFreq``). Samples are offset by
32768; ``(sample - 32768) / (gain / 1000)`` is in uV, as in Open Ephys' loader. The timestamp is the
sample number on the acquisition clock; the clock origin is the first timestamp of a ``.continuous``
file in the same folder (else 0). Each file is one electrode; ``sortedID`` splits it into units
(0 = not sorted online → 'unsorted'). The electrode number in the file name (``Stereotrode3``,
``Tetrode3``, ``SE3``) gives the tetrode: the study tetrode whose ``number`` is 3. A file whose size is
not the header plus whole records is truncated and rejected.

Channel names come from the ``settings.xml`` of the folder (the spike detector's ``SPIKE_CHANNEL``
``local_channels``, 1-based, named ``CH<k>`` as the ``.continuous`` files are); without it there are none.
The files state no duration (``duration_s`` None).
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np

from nwb_ketamine.converters.sorted_units import SortedUnits, UnitCollector, tetrode_index, tetrode_number
from nwb_ketamine.errors import ConversionError

HEADER_BYTES = 1024
READER = "nwb_ketamine.converters.openephys_spikes (Open Ephys legacy .spikes records)"


def _read_header(path: Path) -> dict[str, str]:
    """The ``header.key = value;`` lines of the 1024-byte text header."""
    with open(path, "rb") as f:
        raw = f.read(HEADER_BYTES)
    if len(raw) < HEADER_BYTES or b"Open Ephys" not in raw:
        raise ConversionError(f"{path}: not an Open Ephys legacy file (no 1024-byte header); check sorting.path")
    out = {}
    for line in raw.decode("latin-1").split("\n"):
        if line.startswith("header.") and "=" in line:
            key, value = line[len("header.") :].split("=", 1)
            out[key.strip()] = value.strip().rstrip(";").strip().strip("'")
    return out


def record_dtype(n_channels: int, n_samples: int) -> np.dtype:
    """The numpy dtype of one spike record.

    Parameters
    ----------
    n_channels
        Channels per spike (``header.num_channels``).
    n_samples
        Samples per channel (``header.samplesPerSpike``).
    """
    return np.dtype(
        [
            ("event_type", "u1"),
            ("timestamp", "<i8"),
            ("software_timestamp", "<i8"),
            ("source", "<u2"),
            ("n_channels", "<u2"),
            ("n_samples", "<u2"),
            ("sorted_id", "<u2"),
            ("electrode_id", "<u2"),
            ("channel", "<u2"),
            ("color", "u1", 3),
            ("pc_proj", "<f4", 2),
            ("sample_freq", "<u2"),
            ("waveforms", "<u2", (n_channels, n_samples)),
            ("gains", "<f4", n_channels),
            ("thresholds", "<u2", n_channels),
            ("recording_number", "<u2"),
        ]
    )


def read_spikes_file(path) -> dict:
    """Read one ``.spikes`` file.

    Parameters
    ----------
    path
        The ``.spikes`` file.

    Returns
    -------
    dict
        ``timestamps`` (int64, acquisition clock), ``sorted_id``, ``waveforms_uv`` (n_spikes, n_samples,
        n_channels, float32), ``sampling_rate_hz``, ``thresholds_uv`` and ``header``.
    """
    path = Path(path)
    header = _read_header(path)
    try:
        n_channels = int(header["num_channels"])
        n_samples = int(header.get("samplesPerSpike", 40))
        rate = float(header["sampleRate"])
    except (KeyError, ValueError):
        raise ConversionError(
            f"{path}: header lacks num_channels or sampleRate; not a GUI .spikes file, check sorting.path"
        ) from None
    dtype = record_dtype(n_channels, n_samples)
    size = path.stat().st_size - HEADER_BYTES
    if size % dtype.itemsize:
        raise ConversionError(
            f"{path}: {size} bytes of records is not a whole number of {dtype.itemsize}-byte spikes; "
            "the file is truncated"
        )
    data = np.fromfile(path, dtype=dtype, offset=HEADER_BYTES)
    if data.size and (np.any(data["n_channels"] != n_channels) or np.any(data["n_samples"] != n_samples)):
        raise ConversionError(
            f"{path}: records disagree with the header on channels or samples per spike; the file is damaged"
        )
    gains = data["gains"].astype(np.float64)[:, None, :]
    waveforms = (data["waveforms"].astype(np.float64).transpose(0, 2, 1) - 32768.0) / (gains / 1000.0)
    return {
        "timestamps": data["timestamp"].astype(np.int64),
        "sorted_id": data["sorted_id"].astype(np.int64),
        "waveforms_uv": waveforms.astype(np.float32),
        "sampling_rate_hz": rate,
        "thresholds_uv": data["thresholds"].view(np.int16).astype(np.float64),
        "header": header,
    }


def _clock_origin(folder: Path) -> int:
    """First timestamp of a ``.continuous`` file of the folder (the raw recording's first sample), else 0."""
    for continuous in sorted(folder.glob("*.continuous")):
        with open(continuous, "rb") as f:
            f.seek(HEADER_BYTES)
            raw = f.read(8)
        if len(raw) == 8:
            return int(np.frombuffer(raw, "<i8")[0])
    return 0


def _spike_channel_names(settings: Path) -> dict[str, list[str]]:
    """Electrode name → its channels' names (``CH1``...) from a GUI 0.6 ``settings.xml``; {} if unreadable."""
    import xml.etree.ElementTree as ElementTree

    try:
        root = ElementTree.parse(settings).getroot()
    except (OSError, ElementTree.ParseError):
        return {}
    out = {}
    for node in root.iter("SPIKE_CHANNEL"):
        name, local = node.get("name"), node.get("local_channels", "")
        if name and local:
            out[name] = [f"CH{c.strip()}" for c in local.split(",") if c.strip()]
    return out


def read_openephys_spikes(path, *, session=None, sampling_rate_hz: float | None = None) -> SortedUnits:
    """Read a folder of ``.spikes`` files (or one file) as units: one per electrode and sorted id.

    Parameters
    ----------
    path
        A folder of ``.spikes`` files or one of them.
    session
        The in vivo session: ``Tetrode<n>`` belongs to its tetrode whose ``number`` is n.
    sampling_rate_hz
        The raw recording's rate; None: the files' ``sampleRate``.
    """
    path = Path(path)
    files = sorted(path.glob("*.spikes")) if path.is_dir() else [path]
    if not files:
        raise ConversionError(f"{path}: no .spikes files; check sorting.path")
    origin = _clock_origin(files[0].parent)
    settings = files[0].parent / "settings.xml"
    electrodes = _spike_channel_names(settings) if settings.exists() else {}
    units = UnitCollector()
    names: dict[int, list[str]] = {}
    rate: float | None = None
    for file in files:
        content = read_spikes_file(file)
        file_rate = content["sampling_rate_hz"]
        rate = rate or file_rate
        if file_rate != rate:
            raise ConversionError(
                f"{file}: sampled at {file_rate} Hz, other files at {rate} Hz; sorting.path must name one "
                "recording's files"
            )
        tet = tetrode_index(session, tetrode_number(file, r"(?:trode|SE|Electrode)\s*(\d+)"), file)
        electrode = content["header"].get("electrode", "")
        if electrode in electrodes:
            names[tet] = electrodes[electrode]
        scale = (sampling_rate_hz or rate) / rate
        samples = np.rint((content["timestamps"] - origin) * scale).astype(np.int64)
        prefix = file.name.split("_")[0]
        units.add_clusters(
            content["sorted_id"], samples, content["waveforms_uv"], prefix=prefix, tetrode=tet, file=file
        )
    means, sds = units.waveforms()
    return SortedUnits(
        ids=units.ids,
        spike_samples=units.spikes,
        sampling_rate_hz=float(sampling_rate_hz or cast(float, rate)),  # files is not empty
        labels=units.labels,
        tetrode=units.tetrodes,
        waveforms_mean_uv=means,
        waveforms_sd_uv=sds,
        channel_names=names or None,
        source_files=tuple(str(f) for f in files) + ((str(settings),) if electrodes else ()),
        reader=READER,
        unit_files=units.unit_files,
    )
