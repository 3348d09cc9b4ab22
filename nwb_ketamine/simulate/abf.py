"""Simulated whole-cell voltage-clamp sweeps, written as episodic ABF 1.8 files.

Design decision: the sweeps are synthesised from a small physical model (series resistance and a
passive membrane charged through it for the test pulse, a stimulus artefact, difference-of-exponentials
EPSCs, spontaneous EPSCs, drift and white noise) and written with our own vectorised ABF1 writer
rather than ``pyabf.abfWriter.writeABF1``: that writer truncates instead of rounding, packs values one
at a time, picks a power-of-ten scale from the data and leaves the extended header (which pyabf reads
anyway) to whatever the data bytes happen to be. Ours writes the full 6144-byte ABF 1.8 header with a
fixed amplifier gain (so the least significant bit is the same in every file), the start date and
time, the protocol name, the holding level, the command waveform (holding and test pulse as an
epoch table, so pyabf's ``sweepC`` is the command) and a synch array so that both pyabf and neo's AxonRawIO
see one segment per sweep. The ground truth is the float model; readers see it within half a bit.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from .parameters import SliceParameters

BLOCK_SIZE = 512
HEADER_BLOCKS = 12  # 6144 bytes, the size of an ABF 1.8 header


@dataclass(frozen=True)
class ProtocolSpec:
    """One ABF file of one cell: what the model needs to synthesise its sweeps.

    Amplitudes are signed (negative = inward), times in seconds, resistances in MOhm, capacitance in pF.
    """

    protocol: str
    holding_mv: float
    n_sweeps: int
    amplitude_pa: float
    rise_s: float
    decay_s: float
    latency_s: float
    rs_mohm: float
    rs_drift_per_sweep: float
    rm_mohm: float
    cm_pf: float
    holding_current_pa: float
    spontaneous: bool
    spontaneous_rise_s: float = 0.001
    spontaneous_decay_s: float = 0.005


def lsb_pa(params: SliceParameters) -> float:
    """Current of one ADC bit, in pA, as pyabf computes it from the header's float32 fields.

    Parameters
    ----------
    params
        The slice acquisition parameters (ADC range and resolution, gains).
    """
    f32 = np.float32
    scale = float(f32(params.instrument_scale_factor_v_per_pa)) * float(f32(params.signal_gain))
    return float(f32(params.adc_range_v)) / params.adc_resolution / scale


def epsc_kernel(t: np.ndarray, rise_s: float, decay_s: float) -> np.ndarray:
    """Difference of exponentials normalised to a peak of 1; zero before ``t = 0``.

    Parameters
    ----------
    t
        Times from the EPSC onset, in s.
    rise_s, decay_s
        Rise and decay time constants, in s (``rise_s < decay_s``).
    """
    tp = peak_time(rise_s, decay_s)
    norm = np.exp(-tp / decay_s) - np.exp(-tp / rise_s)
    u = np.clip(t, 0.0, None)
    return np.where(t >= 0.0, (np.exp(-u / decay_s) - np.exp(-u / rise_s)) / norm, 0.0)


def peak_time(rise_s: float, decay_s: float) -> float:
    """Time from onset to the peak of a difference of exponentials, in s.

    Parameters
    ----------
    rise_s, decay_s
        Rise and decay time constants, in s (``rise_s < decay_s``).
    """
    return rise_s * decay_s / (decay_s - rise_s) * np.log(decay_s / rise_s)


def simulate_protocol(
    spec: ProtocolSpec, params: SliceParameters, rng: np.random.Generator
) -> tuple[np.ndarray, list[dict]]:
    """Synthesise the sweeps of one voltage-clamp protocol.

    Parameters
    ----------
    spec
        The cell's properties for this file.
    params
        Acquisition and timing parameters (sampling rate, test pulse, stimulus, noise).
    rng
        Random generator; the same generator state gives the same sweeps.

    Returns
    -------
    sweeps : ndarray, shape (n_sweeps, n_samples)
        Membrane current in pA.
    truth : list of dict
        One dict per sweep with the simulated amplitude, kinetics, resistances and events.
    """
    fs = params.sampling_rate_hz
    n = int(round(params.sweep_duration_s * fs))
    t = np.arange(n) / fs
    k = np.arange(spec.n_sweeps)

    # Baseline: holding current random walk across sweeps plus a slow slope within each sweep.
    holding = spec.holding_current_pa + np.cumsum(rng.normal(0.0, params.drift_pa_per_sweep, spec.n_sweeps))
    slope = rng.normal(0.0, params.within_sweep_slope_pa_per_s, spec.n_sweeps)
    sweeps = holding[:, None] + slope[:, None] * t[None, :]

    # Test pulse through Rs into a passive membrane (Rm || Cm): I(u) = dV/Rin + dV (1/Rs - 1/Rin) exp(-u/tau).
    rs = spec.rs_mohm * (1.0 + spec.rs_drift_per_sweep) ** k
    rin = rs + spec.rm_mohm
    tau = rs * spec.rm_mohm / rin * spec.cm_pf * 1e-6  # MOhm * pF = us
    dv = params.test_pulse_mv
    i_on = int(round(params.test_pulse_start_s * fs))
    i_off = i_on + int(round(params.test_pulse_duration_s * fs))

    def _step_response(i0):
        u = (np.arange(n) - i0)[None, :] / fs
        after = u >= 0
        resp = dv / rin[:, None] + dv * (1.0 / rs - 1.0 / rin)[:, None] * np.exp(-np.clip(u, 0, None) / tau[:, None])
        return np.where(after, resp * 1e3, 0.0)  # mV / MOhm = nA -> pA

    sweeps += _step_response(i_on) - _step_response(i_off)

    # Stimulus artefact, then the evoked EPSC.
    i_stim = int(round(params.stimulus_time_s * fs))
    u_stim = (np.arange(n) - i_stim) / fs
    artefact_sign = np.where(np.arange(n) == i_stim, 1.0, -0.6)
    artefact = np.where(
        u_stim >= 0,
        artefact_sign * params.artefact_amplitude_pa * np.exp(-np.clip(u_stim, 0, None) / params.artefact_tau_s),
        0.0,
    )
    sweeps += artefact[None, :]
    amps = spec.amplitude_pa * np.clip(rng.normal(1.0, params.sweep_amplitude_cv, spec.n_sweeps), 0.5, 1.5)
    kernel = epsc_kernel(u_stim - spec.latency_s, spec.rise_s, spec.decay_s)
    sweeps += amps[:, None] * kernel[None, :]
    fixed = float(epsc_kernel(np.array([params.fixed_latency_rule_s - spec.latency_s]), spec.rise_s, spec.decay_s)[0])

    # Spontaneous EPSCs, kept off the test pulse and the evoked response so the truth stays unambiguous.
    spont_times: list[list[float]] = [[] for _ in k]
    spont_amps: list[list[float]] = [[] for _ in k]
    if spec.spontaneous and params.spontaneous_rate_hz > 0:
        counts = rng.poisson(params.spontaneous_rate_hz * params.sweep_duration_s, spec.n_sweeps)
        onsets = rng.uniform(0.0, params.sweep_duration_s - 0.03, counts.sum())
        amplitudes = -rng.uniform(*params.spontaneous_amplitude_pa, counts.sum())
        owner = np.repeat(k, counts)
        ex = params.spontaneous_exclusion_s
        tp0, tp1 = params.test_pulse_start_s, params.test_pulse_start_s + params.test_pulse_duration_s
        evoked_end = params.stimulus_time_s + spec.latency_s + 8 * spec.decay_s
        keep = ~(
            ((onsets > tp0 - ex) & (onsets < tp1 + ex))
            | ((onsets > params.stimulus_time_s - ex) & (onsets < evoked_end))
        )
        for sweep, onset, amp in zip(owner[keep], onsets[keep], amplitudes[keep], strict=True):
            sweeps[sweep] += amp * epsc_kernel(t - onset, spec.spontaneous_rise_s, spec.spontaneous_decay_s)
            spont_times[sweep].append(float(onset))
            spont_amps[sweep].append(float(amp))

    sweeps += rng.normal(0.0, params.noise_pa, sweeps.shape)

    truth = [
        {
            "sweep": int(i),
            "sweep_start_s": float(i * params.sweep_interval_s),
            "protocol": spec.protocol,
            "holding_potential_mv": spec.holding_mv,
            "epsc_amplitude_pa": float(amps[i]),
            "epsc_value_at_fixed_latency_pa": float(amps[i] * fixed),
            "fixed_latency_s": params.fixed_latency_rule_s,
            "rise_tau_ms": spec.rise_s * 1e3,
            "decay_tau_ms": spec.decay_s * 1e3,
            "latency_ms": spec.latency_s * 1e3,
            "time_to_peak_ms": (spec.latency_s + peak_time(spec.rise_s, spec.decay_s)) * 1e3,
            "rs_mohm": float(rs[i]),
            "rin_mohm": float(rin[i]),
            "rm_mohm": spec.rm_mohm,
            "cm_pf": spec.cm_pf,
            "membrane_tau_ms": float(tau[i] * 1e3),
            "holding_current_pa": float(holding[i]),
            "spontaneous_onsets_s": spont_times[i],
            "spontaneous_amplitudes_pa": spont_amps[i],
        }
        for i in k
    ]
    return sweeps, truth


def _quantise(sweeps: np.ndarray, params: SliceParameters) -> np.ndarray:
    """ADC codes (int16) of currents in pA; saturates like a real digitiser."""
    return np.clip(np.rint(sweeps / lsb_pa(params)), -32768, 32767).astype("<i2")


def write_abf(
    path: Path,
    sweeps: np.ndarray,
    params: SliceParameters,
    *,
    start_time: datetime,
    protocol: str,
    holding_mv: float,
    tags: tuple[tuple[float, str], ...] = (),
) -> np.ndarray:
    """Write episodic voltage-clamp sweeps as an ABF 1.8 file.

    Parameters
    ----------
    path
        Output file.
    sweeps
        Currents in pA, shape (n_sweeps, n_samples).
    params
        Sampling rate, sweep interval and amplifier gains.
    start_time
        Local wall-clock time of the first sweep (stored as the rig clock stores it, without offset).
    protocol
        Protocol name, stored as the protocol path and in the file comment.
    holding_mv
        Holding potential, stored as the instrument holding level.
    tags
        Comment tags as pClamp stores them: (seconds from the file start, text of at most 56 bytes).

    Returns
    -------
    ndarray
        The currents as any reader sees them (ADC codes times the bit size), in pA.
    """
    codes = _quantise(sweeps, params)
    n_sweeps, n_points = codes.shape
    fs = params.sampling_rate_hz
    data_start = HEADER_BLOCKS * BLOCK_SIZE
    data_bytes = codes.size * 2
    synch_block = HEADER_BLOCKS + -(-data_bytes // BLOCK_SIZE)
    header = bytearray(data_start)

    def _put(fmt, offset, *values):
        struct.pack_into("<" + fmt, header, offset, *values)

    _put("4s", 0, b"ABF ")
    _put("f", 4, 1.83)  # fFileVersionNumber
    _put("h", 8, 5)  # nOperationMode: episodic stimulation
    _put("i", 10, codes.size)  # lActualAcqLength
    _put("i", 16, n_sweeps)  # lActualEpisodes
    _put("i", 20, int(start_time.strftime("%Y%m%d")))  # lFileStartDate
    _put("i", 24, start_time.hour * 3600 + start_time.minute * 60 + start_time.second)  # lFileStartTime
    _put("f", 32, 1.83)  # fHeaderVersionNumber
    _put("i", 40, HEADER_BLOCKS)  # lDataSectionPtr
    _put("i", 92, synch_block)  # lSynchArrayPtr
    _put("i", 96, n_sweeps)  # lSynchArraySize
    _put("h", 100, 0)  # nDataFormat: int16
    _put("h", 120, 1)  # nADCNumChannels
    _put("f", 122, 1e6 / fs)  # fADCSampleInterval, us
    _put("f", 130, 0.0)  # fSynchTimeUnit: synch array in samples
    _put("i", 138, n_points)  # lNumSamplesPerEpisode
    _put("i", 146, n_sweeps)  # lEpisodesPerRun
    _put("i", 150, 1)  # lRunsPerTrial
    _put("i", 154, 1)  # lNumberOfTrials
    _put("f", 178, params.sweep_interval_s)  # fEpisodeStartToStart (ABF 1.8 layout)
    _put("f", 244, params.adc_range_v)
    _put("f", 248, params.adc_range_v)  # fDACRange
    _put("i", 252, params.adc_resolution)
    _put("i", 256, params.adc_resolution)  # lDACResolution
    _put("16s", 294, b"nwb-ketamine sim")  # sCreatorInfo
    _put("h", 366, start_time.microsecond // 1000)  # nFileStartMillisecs
    _put("16h", 378, *range(16))  # nADCPtoLChannelMap
    _put("16h", 410, 0, *([-1] * 15))  # nADCSamplingSeq
    _put("10s", 442, b"IN 0".ljust(10))  # sADCChannelName[0]
    for i in range(16):
        _put("8s", 602 + 8 * i, b"pA".ljust(8))
        _put("f", 730 + 4 * i, 1.0)  # fADCProgrammableGain
        _put("f", 922 + 4 * i, params.instrument_scale_factor_v_per_pa)
        _put("f", 1050 + 4 * i, params.signal_gain)
    _put("10s", 1306, b"Cmd 0".ljust(10))  # sDACChannelName[0]
    _put("8s", 1346, b"mV".ljust(8))  # sDACChannelUnit[0]
    # Command waveform as an epoch table (what pClamp's waveform tab stores): epoch A holds, epoch B is
    # the test pulse; before A the DAC holds for 1/64 of the sweep, after B it returns to holding.
    pre = n_points // 64
    i_on = int(round(params.test_pulse_start_s * fs))
    i_width = int(round(params.test_pulse_duration_s * fs))
    _put("h", 1440, 0)  # nActiveDACChannel
    _put("2h", 2296, 1, 0)  # nWaveformEnable
    _put("2h", 2300, 1, 0)  # nWaveformSource: epochs
    _put("2h", 2304, 0, 0)  # nInterEpisodeLevel: use holding
    _put("20h", 2308, 1, 1, *([0] * 18))  # nEpochType: step, step
    _put("20f", 2348, holding_mv, holding_mv + params.test_pulse_mv, *([0.0] * 18))  # fEpochInitLevel
    _put("20i", 2508, i_on - pre, i_width, *([0] * 18))  # lEpochInitDuration, samples
    _put("16h", 4512, *([0] * 16))  # nTelegraphEnable: gains are in the header, not telegraphed
    _put("256s", 4898, f"C:\\Axon\\Params\\{protocol}.pro".encode())  # sProtocolPath
    _put("128s", 5154, f"{protocol} at {holding_mv:+g} mV".encode())  # sFileCommentNew
    _put("f", 5298, holding_mv)  # fInstrumentHoldingLevel[0]

    # Synch array: (start, length) of each episode, in samples.
    interval = int(round(params.sweep_interval_s * fs))
    synch = np.empty((n_sweeps, 2), dtype="<i4")
    synch[:, 0] = np.arange(n_sweeps) * interval
    synch[:, 1] = n_points
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Tag section after the synch array: 64-byte entries of (lTagTime in samples of all channels,
    # sComment[56], nTagType 1 = comment, nVoiceTagNumber).
    tag_block = synch_block + -(-synch.nbytes // BLOCK_SIZE)
    tag_bytes = b"".join(
        struct.pack("<i56shh", int(round(time_s * fs)), text.encode()[:56].ljust(56), 1, 0) for time_s, text in tags
    )
    _put("i", 44, tag_block if tags else 0)  # lTagSectionPtr
    _put("i", 48, len(tags))  # lNumTagEntries
    with open(path, "wb") as f:
        f.write(header)
        f.write(codes.tobytes())
        f.write(b"\0" * (synch_block * BLOCK_SIZE - data_start - data_bytes))
        f.write(synch.tobytes())
        if tags:
            f.write(b"\0" * (tag_block * BLOCK_SIZE - synch_block * BLOCK_SIZE - synch.nbytes))
            f.write(tag_bytes)
    return codes.astype(np.float64) * lsb_pa(params)
