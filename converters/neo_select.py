"""Choosing what neo reads: the RawIO class of a recording, its arguments, the stream, and the channels' scale.

Nothing is guessed: the study file names the format, the stream and the recording file whenever there is
a choice, and a choice left open is refused with the list of what there is.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np

from nwb_ketamine.converters.registry import RAW_FORMATS
from nwb_ketamine.errors import ConversionError

#: File patterns that identify a format inside a folder, tried in order.
_SIGNATURES = (
    ("structure.oebin", "OpenEphysBinaryRawIO"),
    ("*.continuous", "OpenEphysRawIO"),
    ("*.ncs", "NeuralynxRawIO"),
    ("*.rhd", "IntanRawIO"),
    ("*.rhs", "IntanRawIO"),
    ("*.ns[1-6]", "BlackrockRawIO"),
    ("*.pl2", "Plexon2RawIO"),
    ("*.plx", "PlexonRawIO"),
    ("*.set", "AxonaRawIO"),
    ("*.rec", "SpikeGadgetsRawIO"),
    ("*.ap.bin", "SpikeGLXRawIO"),
    ("*.smrx", "Spike2RawIO"),
    ("*.smr", "Spike2RawIO"),
)

_UNIT_TO_UV = {"uV": 1.0, "µV": 1.0, "mV": 1e3, "V": 1e6}


def rawio_class_name(path: Path, fmt: str | None) -> str:
    """The neo RawIO class name for ``fmt`` (a short name or a class name), or recognised from ``path``.

    Parameters
    ----------
    path
        The recording folder or file.
    fmt
        The study file's ``raw.format``, or None.
    """
    import neo.rawio

    if fmt:
        name = RAW_FORMATS.get(fmt.lower(), fmt)
        if not hasattr(neo.rawio, name):
            raise ConversionError(
                f"{path}: raw.format {fmt!r} is unknown; use one of {', '.join(RAW_FORMATS)} or a neo RawIO class name"
            )
        return name
    folder = path if path.is_dir() else path.parent
    for pattern, name in _SIGNATURES:
        if (path.is_file() and path.match(pattern)) or any(folder.rglob(pattern)):
            return name
    raise ConversionError(f"{path}: no recording format recognised from the files; set raw.format in the study file")


def source_argument(cls, path: Path, file: str | None) -> dict:
    """The constructor argument neo's class wants: the folder itself, or the one recording file in it.

    Parameters
    ----------
    cls
        The neo RawIO class.
    path
        The recording folder or file.
    file
        The study file's ``raw.file``, or None.
    """
    params = inspect.signature(cls.__init__).parameters
    if "dirname" in params and file is None:
        return {"dirname": str(path if path.is_dir() else path.parent)}
    if path.is_file():
        return {"filename": str(path)}
    if file is not None:
        target = path / file
        if not target.is_file():
            raise ConversionError(f"{path}: raw.file {file!r} is not in this folder; fix raw.file in the study file")
        return {"filename": str(target)}
    # Readers of one file: the recording files are those with the reader's first (main) extension.
    main = getattr(cls, "extensions", [""])[0].lower()
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lstrip(".").lower() == main)
    if not files:
        raise ConversionError(f"{path}: no {cls.__name__} file (.{main}) in this folder")
    if len(files) > 1:
        names = ", ".join(str(f.relative_to(path)) for f in files)
        raise ConversionError(
            f"{path}: {len(files)} recordings in this folder ({names}); name one with raw.file in the study file"
        )
    return {"filename": str(files[0])}


def check_options(cls, path: Path, options: dict) -> None:
    """Refuse ``raw.neo_options`` that are not keyword arguments of the neo class.

    Parameters
    ----------
    cls
        The neo RawIO class.
    path
        The recording, named in the error.
    options
        The study file's ``raw.neo_options``.
    """
    params = inspect.signature(cls.__init__).parameters
    unknown = sorted(set(options) - set(params) - {"self"})
    if unknown:
        known = ", ".join(n for n in params if n not in ("self", "dirname", "filename", "kargs", "kwargs"))
        raise ConversionError(
            f"{path}: raw.neo_options {unknown} are not options of neo's {cls.__name__} (its options: {known})"
        )


def _describe_streams(streams, channels) -> str:
    """One phrase per stream: ``'name' (id 0: 4 channels at 32000 Hz, uV)``."""
    out = []
    for s in streams:
        chans = channels[channels["stream_id"] == s["id"]]
        rates = sorted({float(r) for r in chans["sampling_rate"]})
        units = sorted({str(u) or "no unit" for u in chans["units"]})
        out.append(
            f"{str(s['name'])!r} (id {s['id']}: {len(chans)} channels at {'/'.join(f'{r:g}' for r in rates)} Hz, "
            f"{'/'.join(units)})"
        )
    return ", ".join(out)


def channel_scale(path: Path, chans, stream_name: str, gain, unit) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel gain and offset in µV: from the header, or from the study for channels with no unit.

    Parameters
    ----------
    path
        The recording, named in errors.
    chans
        neo's ``signal_channels`` rows of the stream.
    stream_name
        The stream, named in errors.
    gain, unit
        The study file's ``raw.gain`` and ``raw.unit`` (None when not given).

    Returns
    -------
    gain_uv, offset_uv : ndarray
        One value per channel.

    Raises
    ------
    ConversionError
        A channel has no unit and the study gives no gain, the study gives a gain the header makes
        needless, or a unit is not a voltage.
    """
    units = [str(u) for u in chans["units"]]
    unitless = [str(n) for n, u in zip(chans["name"], units, strict=True) if not u.strip()]
    if gain is not None and not unitless:
        raise ConversionError(
            f"{path}: the header gives every channel a unit ({', '.join(sorted(set(units)))}); "
            "remove raw.gain and raw.unit from the study file"
        )
    if unitless and gain is None:
        raise ConversionError(
            f"{path}: channels {unitless[:8]}{' ...' if len(unitless) > 8 else ''} of stream "
            f"{stream_name!r} have no physical unit; give raw.gain and raw.unit (e.g. 0.195 and uV) "
            "in the study file, or choose another raw.stream"
        )
    bad = sorted({u for u in units if u.strip() and u not in _UNIT_TO_UV})
    if bad:
        raise ConversionError(f"{path}: channel units {bad} are not voltages; choose another raw.stream")
    gain_uv = np.empty(len(units))
    offset_uv = np.empty(len(units))
    for i, u in enumerate(units):
        if u.strip():
            gain_uv[i] = float(chans["gain"][i]) * _UNIT_TO_UV[u]
            offset_uv[i] = float(chans["offset"][i]) * _UNIT_TO_UV[u]
        else:
            # The header's gain is a placeholder (usually 1) when it has no unit; the study's gain replaces it.
            gain_uv[i] = float(gain) * _UNIT_TO_UV[unit]
            offset_uv[i] = 0.0
    return gain_uv, offset_uv


def source_files(cls, source: dict) -> list[str]:
    """The files the reader opens: the one file, or the folder's files with the reader's extensions.

    Parameters
    ----------
    cls
        The neo RawIO class.
    source
        Its constructor argument (``filename`` or ``dirname``).

    Returns
    -------
    list of str
        The files.
    """
    if "filename" in source:
        return [str(source["filename"])]
    extensions = {e.lower() for e in getattr(cls, "extensions", [])}
    folder = Path(source["dirname"])
    return sorted(str(p) for p in folder.rglob("*") if p.is_file() and p.suffix.lstrip(".").lower() in extensions)


def choose_stream(path: Path, streams, channels, wanted) -> int:
    """Index of the stream to convert: the one the study names, or the only one.

    Parameters
    ----------
    path
        The recording, named in errors.
    streams, channels
        neo's ``signal_streams`` and ``signal_channels``.
    wanted
        The study file's ``raw.stream`` (name or id), or None.

    Raises
    ------
    ConversionError
        The named stream does not exist, or there are several and none is named.
    """
    if wanted is not None:
        for i, s in enumerate(streams):
            if str(wanted) in (str(s["name"]), str(s["id"])):
                return i
        raise ConversionError(
            f"{path}: raw.stream {wanted!r} does not exist; the streams are {_describe_streams(streams, channels)}"
        )
    if len(streams) == 1:
        return 0
    raise ConversionError(
        f"{path}: {len(streams)} signal streams, {_describe_streams(streams, channels)}; "
        "name the tetrode stream with raw.stream in the study file"
    )
