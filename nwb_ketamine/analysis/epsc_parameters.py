"""The EPSC analysis' parameters: every number that changes a stored EPSC result, with its unit in its name."""

from __future__ import annotations

from dataclasses import dataclass

from nwb_ketamine.analysis.parameters import ParameterSet


@dataclass(frozen=True)
class EpscParameters(ParameterSet):
    """Every parameter of the EPSC analysis, with its unit in its name.

    The four protocol fields have no default: they describe the recording, not a convention, and must
    be stated by the user (or read from the protocol). The other defaults are typical values used in
    slice electrophysiology labs, not values from any particular paper.

    Attributes
    ----------
    stimulus_time_s
        Time of the extracellular stimulus from the start of the sweep.
    test_pulse_start_s
        Start of the voltage step used to measure Rs and Rin, from the start of the sweep.
    test_pulse_duration_s
        Duration of that voltage step.
    test_pulse_amplitude_v
        Amplitude of the step (signed, e.g. -0.005 for a -5 mV step).
    holding_window_s
        Length of the window just before the test pulse whose mean is the holding current and the
        reference of the test-pulse currents.
    test_pulse_peak_window_s
        The peak capacitive transient is searched from the pulse onset for this long.
    test_pulse_steady_state_window_s
        The steady-state current is the mean over this long at the end of the pulse.
    baseline_window_s
        The EPSC baseline is the mean current over this long just before the stimulus.
    artefact_blanking_s
        Samples from the stimulus for this long are ignored (stimulus artefact); peak searches start
        after it.
    ampa_peak_end_s
        End of the AMPA (inward) peak search window, after the stimulus.
    nmda_peak_end_s
        End of the NMDA (outward) peak search window, after the stimulus.
    ampa_peak_smoothing_s, nmda_peak_smoothing_s
        Width of the moving average applied before the peak is located and read, so that noise does
        not inflate the peak (0 keeps single samples).
    nmda_latency_s
        The "amplitude at a fixed latency" rule: the current this long after the stimulus, where the
        AMPA component at +40 mV has decayed.
    latency_window_s
        Width of the window centred on ``nmda_latency_s`` whose mean is that value.
    decay_fit_start_fraction, decay_fit_end_fraction
        The decay fits (one and two exponentials) run from the first sample after the peak below
        ``start_fraction * peak`` to the first sample below ``end_fraction * peak``.
    ampa_decay_end_s, nmda_decay_end_s
        The decay fit never extends past this time after the stimulus.
    min_decay_fit_points
        Fewer samples than this in the fit range give a NaN time constant.
    decay_biexp_screen_alpha
        A two-exponential fit is attempted only where the residuals of the single one curve with this
        significance (F-test p below it; a linear screen, see :mod:`~nwb_ketamine.analysis.decay`).
    decay_biexp_min_tau_ratio
        A two-exponential fit is kept only if its slow tau is at least this many times its fast tau.
    decay_biexp_max_tau_window_ratio
        ... and only if its slow tau is at most this many times the duration of the fit window.
    decay_biexp_alpha
        ... and only if the F-test of two against one component gives a p-value below this; otherwise
        the weighted tau is the single-exponential tau (rule: :mod:`~nwb_ketamine.analysis.decay`).
    ampa_holding_v, nmda_holding_v, holding_tolerance_v
        A sweep held within the tolerance of ``ampa_holding_v`` is an AMPA sweep, of ``nmda_holding_v``
        an NMDA sweep.
    epsc_reversal_v
        Reversal potential of the glutamatergic EPSC; gives the polarity of ``'other'`` sweeps.
    rs_max_ohm
        Sweeps with a larger series resistance are rejected.
    rs_change_max
        Sweeps whose Rs differs from the cell's first sweep by more than this fraction are rejected.
    min_accepted_sweeps
        A cell fails QC if a kind it was recorded in has fewer accepted sweeps than this.
    """

    LABEL = "EPSC analysis"

    stimulus_time_s: float
    test_pulse_start_s: float
    test_pulse_duration_s: float
    test_pulse_amplitude_v: float
    holding_window_s: float = 0.01
    test_pulse_peak_window_s: float = 0.002
    test_pulse_steady_state_window_s: float = 0.02
    baseline_window_s: float = 0.01
    artefact_blanking_s: float = 0.001
    ampa_peak_end_s: float = 0.02
    nmda_peak_end_s: float = 0.1
    ampa_peak_smoothing_s: float = 0.0005
    nmda_peak_smoothing_s: float = 0.003
    nmda_latency_s: float = 0.05
    latency_window_s: float = 0.002
    decay_fit_start_fraction: float = 0.5
    decay_fit_end_fraction: float = 0.1
    ampa_decay_end_s: float = 0.05
    nmda_decay_end_s: float = 0.5
    min_decay_fit_points: int = 5
    decay_biexp_screen_alpha: float = 0.1
    decay_biexp_min_tau_ratio: float = 2.0
    decay_biexp_max_tau_window_ratio: float = 3.0
    decay_biexp_alpha: float = 0.01
    ampa_holding_v: float = -0.07
    nmda_holding_v: float = 0.04
    holding_tolerance_v: float = 0.005
    epsc_reversal_v: float = 0.0
    rs_max_ohm: float = 25e6
    rs_change_max: float = 0.2
    min_accepted_sweeps: int = 3

    def __post_init__(self):
        if self.test_pulse_duration_s <= 0:
            raise ValueError(f"test_pulse_duration_s must be > 0, got {self.test_pulse_duration_s}")
        if self.test_pulse_amplitude_v == 0:
            raise ValueError("test_pulse_amplitude_v must not be 0: Rs and Rin are dV / dI")
        if not 0 < self.decay_fit_end_fraction < self.decay_fit_start_fraction <= 1:
            raise ValueError("need 0 < decay_fit_end_fraction < decay_fit_start_fraction <= 1")


EpscParameters.DESCRIPTIONS = _DESCRIPTIONS = {
    "stimulus_time_s": "time of the extracellular stimulus from the start of the sweep",
    "test_pulse_start_s": "start of the Rs/Rin voltage step from the start of the sweep",
    "test_pulse_duration_s": "duration of the Rs/Rin voltage step",
    "test_pulse_amplitude_v": "signed amplitude of the Rs/Rin voltage step",
    "holding_window_s": "holding current = mean over this window just before the test pulse",
    "test_pulse_peak_window_s": "peak transient searched from the pulse onset for this long",
    "test_pulse_steady_state_window_s": "steady-state current = mean over this window at the end of the pulse",
    "baseline_window_s": "EPSC baseline = mean over this window just before the stimulus",
    "artefact_blanking_s": "ignored after the stimulus (artefact); peak searches start after it",
    "ampa_peak_end_s": "end of the AMPA (inward) peak search after the stimulus",
    "nmda_peak_end_s": "end of the NMDA (outward) peak search after the stimulus",
    "ampa_peak_smoothing_s": "moving-average width before locating and reading the AMPA peak",
    "nmda_peak_smoothing_s": "moving-average width before locating and reading the NMDA peak",
    "nmda_latency_s": "fixed-latency rule: EPSC value this long after the stimulus",
    "latency_window_s": "fixed-latency value = mean over a window this wide centred on the latency",
    "decay_fit_start_fraction": "decay fit starts where the EPSC first falls below this fraction of its peak",
    "decay_fit_end_fraction": "decay fit ends where the EPSC first falls below this fraction of its peak",
    "ampa_decay_end_s": "AMPA decay fit never extends past this time after the stimulus",
    "nmda_decay_end_s": "NMDA decay fit never extends past this time after the stimulus",
    "min_decay_fit_points": "fewer samples in the fit range give no time constant",
    "decay_biexp_screen_alpha": "two-exponential decay attempted only if single-fit residuals curve with p below this",
    "decay_biexp_min_tau_ratio": "two-exponential decay kept only if slow tau >= this times fast tau",
    "decay_biexp_max_tau_window_ratio": "two-exponential decay kept only if slow tau <= this times the fit window",
    "decay_biexp_alpha": "two-exponential decay kept only if the F-test against one gives p below this",
    "ampa_holding_v": "holding potential of AMPA sweeps (inward EPSC)",
    "nmda_holding_v": "holding potential of NMDA sweeps (outward EPSC)",
    "holding_tolerance_v": "a sweep within this of a holding potential is of that kind",
    "epsc_reversal_v": "EPSC reversal potential; gives the polarity of other sweeps",
    "rs_max_ohm": "sweeps with a larger series resistance are rejected",
    "rs_change_max": "sweeps whose Rs differs from the cell's first sweep by more than this fraction are rejected",
    "min_accepted_sweeps": "a cell fails QC if a recorded kind has fewer accepted sweeps",
}
