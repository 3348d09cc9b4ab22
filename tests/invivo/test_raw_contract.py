"""The contract every raw reader passes: what neo reads is what the NWB file holds.

For each source — simulated and real, every format we read through neo — the NWB file written by the
converter is compared with neo's own RawIO reading it directly (not through our RawRecording):

- one ElectricalSeries per neo segment, each with the segment's sample count (so the total per channel is
  the sum over all of neo's segments) and its start relative to the first segment;
- the first and last samples of every segment equal neo's;
- conversion × channel_conversion and offset equal neo's gain and offset in the unit neo reports.

A new raw format joins by adding one entry to ``SOURCES``.
"""

from dataclasses import dataclass
from pathlib import Path

import neo.rawio
import numpy as np
import pytest
from pynwb import NWBHDF5IO

from nwb_ketamine.converters.invivo import InVivoConverter
from nwb_ketamine.metadata import load_study
from tests.conftest import REALDATA, write_invivo_study

TO_UV = {"uV": 1.0, "µV": 1.0, "mV": 1e3, "V": 1e6}


@dataclass(frozen=True)
class Source:
    """A recording, how the study file names it, and how to open it with neo directly."""

    raw: dict  # the study file's raw entry
    tetrodes: list[dict]
    neo_class: str
    neo_kwargs: dict
    stream_index: int = 0


def _simulated_openephys(tmp_path_factory, tiny_study, variants_study) -> Source:
    _, study, _ = tiny_study
    session = study.invivo_sessions[0]
    tetrodes = [{"channels": list(t.channels), "region": t.region} for t in session.tetrodes]
    folder = str(session.raw_path)
    return Source({"path": folder, "format": "openephys_binary"}, tetrodes, "OpenEphysBinaryRawIO", {"dirname": folder})


def _variant(variants_study, subject: str) -> Source:
    _, study, _ = variants_study
    session = next(s for s in study.invivo_sessions if s.subject == subject)
    tetrodes = [{"channels": list(t.channels), "region": t.region} for t in session.tetrodes]
    raw = {"path": str(session.raw_path), "format": session.raw_format}
    if session.raw_stream:
        raw["stream"] = session.raw_stream
    if session.raw_neo_options:
        raw["neo_options"] = dict(session.raw_neo_options)
    cls = {"openephys_binary": "OpenEphysBinaryRawIO", "neuralynx": "NeuralynxRawIO"}[session.raw_format]
    neo_kwargs = {"dirname": str(session.raw_path), **dict(session.raw_neo_options)}
    stream_index = 0
    if session.raw_stream:
        reader = getattr(neo.rawio, cls)(**neo_kwargs)
        reader.parse_header()
        stream_index = [str(s["name"]) for s in reader.header["signal_streams"]].index(session.raw_stream)
    return Source(raw, tetrodes, cls, neo_kwargs, stream_index)


def _openephys_two_recordings(tmp_path_factory, tiny_study, variants_study) -> Source:
    return _variant(variants_study, "m004")  # the simulator's session stopped and restarted


def _neuralynx_mixed_rates(tmp_path_factory, tiny_study, variants_study) -> Source:
    return _variant(variants_study, "m005")  # 32 kHz tetrode beside a 2 kHz LFP channel, with a gap


def _real(relative: str):
    folder = REALDATA / relative
    if not folder.is_dir():
        pytest.skip(f"real recordings not available at {folder}")
    return str(folder)


def _openephys_legacy(tmp_path_factory, tiny_study, variants_study) -> Source:
    folder = _real("openephys_legacy/Record Node 105")
    tetrodes = [{"channels": list(range(4 * j, 4 * j + 4)), "region": "LHb"} for j in range(4)]
    return Source({"path": folder, "format": "openephys_legacy"}, tetrodes, "OpenEphysRawIO", {"dirname": folder})


def _neuralynx_gaps(tmp_path_factory, tiny_study, variants_study) -> Source:
    folder = _real("neuralynx_gaps")
    options = {"gap_tolerance_ms": 1.0}
    raw = {"path": folder, "format": "neuralynx", "neo_options": options}
    tetrodes = [{"channels": [0, 1], "region": "LHb"}]
    return Source(raw, tetrodes, "NeuralynxRawIO", {"dirname": folder, **options})


def _neo_example(tmp_path_factory, tiny_study, variants_study) -> Source:
    folder = tmp_path_factory.mktemp("example")
    (folder / "rec.fake").write_text("")  # neo's ExampleRawIO: two streams, two segments of 100,000 samples
    tetrodes = [{"channels": [0, 1, 2, 3], "region": "LHb"}, {"channels": [4, 5, 6, 7], "region": "CA1"}]
    raw = {"path": str(folder), "format": "ExampleRawIO", "stream": "stream 0"}
    return Source(raw, tetrodes, "ExampleRawIO", {"filename": str(folder / "rec.fake")})


SOURCES = {
    "simulated-openephys-binary": _simulated_openephys,
    "real-openephys-legacy": _openephys_legacy,
    "real-neuralynx-gaps": _neuralynx_gaps,
    "neo-example-two-segments": _neo_example,
    "simulated-openephys-two-recordings": _openephys_two_recordings,
    "simulated-neuralynx-mixed-rates-gap": _neuralynx_mixed_rates,
}


@pytest.fixture(params=sorted(SOURCES), scope="module")
def converted(request, tmp_path_factory, tiny_study, variants_study):
    source = SOURCES[request.param](tmp_path_factory, tiny_study, variants_study)
    tmp = tmp_path_factory.mktemp(request.param)
    session = {"session_id": "c1", "start_time": "2024-03-15T14:00:00+00:00", "raw": source.raw}
    study = load_study(write_invivo_study(tmp, [{**session, "tetrodes": source.tetrodes}]))
    path = InVivoConverter(study, study.invivo_sessions[0]).run_conversion(tmp / "contract.nwb")
    return source, Path(path)


def test_every_segment_every_sample_and_neo_scale(converted):
    source, path = converted
    rawio = getattr(neo.rawio, source.neo_class)(**source.neo_kwargs)
    rawio.parse_header()
    stream = rawio.header["signal_streams"][source.stream_index]["id"]
    channels = rawio.header["signal_channels"]
    channels = channels[channels["stream_id"] == stream]
    columns = [c for t in source.tetrodes for c in t["channels"]]
    n_segments = rawio.segment_count(0)
    t0 = rawio.get_signal_t_start(0, 0, source.stream_index)
    shift = 32768 if np.dtype(channels["dtype"][0]) == np.uint16 else 0
    with NWBHDF5IO(path, "r") as io:
        nwb = io.read()
        series = sorted((s for s in nwb.acquisition.values()), key=lambda s: s.starting_time)
        assert len(series) == n_segments
        total = 0
        for k, s in enumerate(series):
            n = rawio.get_signal_size(0, k, source.stream_index)
            assert s.data.shape == (n, len(columns))
            total += n
            start = rawio.get_signal_t_start(0, k, source.stream_index) - t0
            assert s.starting_time == pytest.approx(start, abs=1e-9)
            for i in (0, n - 1):
                expected = rawio.get_analogsignal_chunk(0, k, i, i + 1, source.stream_index, channel_indexes=columns)
                np.testing.assert_array_equal(s.data[i], expected[0].astype(np.int32) - shift)
            scale = s.conversion * (np.asarray(s.channel_conversion[:]) if s.channel_conversion is not None else 1.0)
            neo_uv = np.array([channels["gain"][c] * TO_UV[str(channels["units"][c])] for c in columns])
            np.testing.assert_allclose(np.broadcast_to(scale, neo_uv.shape) * 1e6, neo_uv, rtol=1e-6)
            offset_uv = channels["offset"][columns[0]] * TO_UV[str(channels["units"][columns[0]])]
            assert s.offset * 1e6 == pytest.approx(offset_uv + shift * neo_uv[0], abs=1e-6)
        segments = nwb.intervals["recording_segments"].to_dataframe()
    assert total == sum(rawio.get_signal_size(0, k, source.stream_index) for k in range(n_segments))
    assert list(segments["n_samples"]) == [s.data.shape[0] for s in series]
    assert all(source.neo_class in r for r in segments["reader"])
