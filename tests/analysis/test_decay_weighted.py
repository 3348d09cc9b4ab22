"""Two-exponential decay and the weighted tau: recovery of known components, the one-component rule, scipy.

The traces are sums of exponentials from an instantaneous onset (so the decay window holds only the
decay), sampled at 20 kHz with white noise of a typical whole-cell recording (2 pA RMS against a
150 pA NMDAR-EPSC).
"""

import dataclasses

import numpy as np
import pytest
from scipy.optimize import curve_fit

from nwb_ketamine.analysis import EpscParameters, measure_sweeps, summarize_cell
from nwb_ketamine.analysis.decay import fit_biexponential_decay, fit_exponential_decay
from nwb_ketamine.simulate.abf import epsc_kernel

FS = 20_000.0
N = 20_000  # 1 s sweeps
ONSET_S = 0.402  # 2 ms after the stimulus
P = EpscParameters(
    stimulus_time_s=0.4,
    test_pulse_start_s=0.1,
    test_pulse_duration_s=0.1,
    test_pulse_amplitude_v=-0.005,
    ampa_peak_smoothing_s=0.0,  # the onsets are instantaneous: read single samples
    nmda_peak_smoothing_s=0.0,
)
# Fast and slow NMDAR-like components: amplitudes at the onset (A) and time constants (s).
A1, T1, A2, T2 = 100e-12, 0.03, 50e-12, 0.2
NOISE_A = 2e-12


def _sweeps(components, n_sweeps=1, noise_a=0.0, seed=0):
    """NMDA sweeps (outward EPSCs) ``sum A_i exp(-u / tau_i)`` from the onset, with white noise."""
    t = np.arange(N) / FS
    u = t - ONSET_S
    on = u >= -0.5 / FS
    epsc = sum(a * np.exp(-np.clip(u, 0, None) / tau) for a, tau in components)
    x = np.where(on, epsc, 0.0)
    rng = np.random.default_rng(seed)
    return np.broadcast_to(x, (n_sweeps, N)) + rng.normal(0, noise_a, (n_sweeps, N)) * (noise_a > 0)


def _fit_start_s(x):
    """Time of each row's fit start from the onset: the first sample after the peak at or below half of it."""
    x = np.atleast_2d(x)
    i_peak = np.argmax(x, axis=1)
    after = np.arange(N)[None, :] >= i_peak[:, None]
    i0 = np.argmax(after & (x <= P.decay_fit_start_fraction * x.max(1, keepdims=True)), axis=1)
    return (i0 - round(ONSET_S * FS)) / FS


def _weighted(components, t0):
    """tau_w and fast fraction of the components with amplitudes at ``t0`` (s after the onset, per row)."""
    t0 = np.asarray(t0, dtype=float)
    a = np.array([amp * np.exp(-t0 / tau) for amp, tau in components])
    taus = np.array([tau for _, tau in components]).reshape((-1,) + (1,) * t0.ndim)
    return (a * taus).sum(0) / a.sum(0), a[0] / a.sum(0)


def test_two_exponential_fit_recovers_known_components_under_noise():
    t = np.arange(int(0.3 * FS)) / FS
    y = A1 * np.exp(-t / T1) + A2 * np.exp(-t / T2)
    noisy = y + np.random.default_rng(1).normal(0, NOISE_A, (200, t.size))
    fit = fit_biexponential_decay(t, noisy)
    assert fit["converged"].all()
    errors = {
        "A1": np.abs(fit["amplitude_fast"] / A1 - 1),
        "tau1": np.abs(fit["tau_fast_s"] / T1 - 1),
        "A2": np.abs(fit["amplitude_slow"] / A2 - 1),
        "tau2": np.abs(fit["tau_slow_s"] / T2 - 1),
    }
    print({k: (round(float(np.median(v)), 4), round(float(v.max()), 4)) for k, v in errors.items()})
    for name, error in errors.items():
        assert error.max() < 0.03, name  # every one of 200 noisy traces within 3 %
    means = [np.mean(fit[k]) for k in ("amplitude_fast", "tau_fast_s", "amplitude_slow", "tau_slow_s")]
    np.testing.assert_allclose(means, [A1, T1, A2, T2], rtol=0.005)  # no bias
    # noiseless: exact
    exact = fit_biexponential_decay(t, y[None, :])
    np.testing.assert_allclose(
        [exact[k][0] for k in ("amplitude_fast", "tau_fast_s", "amplitude_slow", "tau_slow_s")],
        [A1, T1, A2, T2],
        rtol=1e-6,
    )


def test_two_exponential_fit_matches_scipy_curve_fit():
    """Both least-squares fits reach the same minimum on the same noisy window (scipy's own LM, 4 free parameters)."""
    t = np.arange(int(0.3 * FS)) / FS
    rng = np.random.default_rng(2)
    rows = A1 * np.exp(-t / T1) + A2 * np.exp(-t / T2) + rng.normal(0, 3 * NOISE_A, (5, t.size))
    ours = fit_biexponential_decay(t, rows)

    def model(tt, a1, k1, a2, k2):
        return a1 * np.exp(-k1 * tt) + a2 * np.exp(-k2 * tt)

    for i, y in enumerate(rows):
        # scaled to pA and 1/s so scipy's tolerances apply; started away from the answer
        popt, _ = curve_fit(model, t, y * 1e12, p0=[60, 1 / 0.05, 60, 1 / 0.3], method="lm", xtol=1e-12, ftol=1e-12)
        a1, k1, a2, k2 = popt if popt[1] > popt[3] else popt[[2, 3, 0, 1]]
        assert ours["amplitude_fast"][i] * 1e12 == pytest.approx(a1, rel=1e-5)
        assert ours["tau_fast_s"][i] == pytest.approx(1 / k1, rel=1e-5)
        assert ours["amplitude_slow"][i] * 1e12 == pytest.approx(a2, rel=1e-5)
        assert ours["tau_slow_s"][i] == pytest.approx(1 / k2, rel=1e-5)
        rss = float(np.sum((y * 1e12 - model(t, *popt)) ** 2))
        assert ours["rss"][i] * 1e24 == pytest.approx(rss, rel=1e-6)


def test_weighted_tau_of_two_components_through_measure_sweeps():
    components = [(A1, T1), (A2, T2)]
    clean = _sweeps(components)
    expected, fraction = _weighted(components, _fit_start_s(clean)[0])
    m = measure_sweeps(clean, FS, [0.04], P)
    assert m["decay_components"][0] == 2
    assert m["decay_tau_weighted_s"][0] == pytest.approx(expected, rel=1e-5)
    assert m["decay_fast_fraction"][0] == pytest.approx(fraction, rel=1e-5)
    assert (m["decay_tau_fast_s"][0], m["decay_tau_slow_s"][0]) == pytest.approx((T1, T2), rel=1e-5)
    # the single exponential of the same window is a different, in-between number
    assert T1 < m["decay_tau_s"][0] < T2 and abs(m["decay_tau_s"][0] / expected - 1) > 0.03

    noisy = _sweeps(components, n_sweeps=100, noise_a=NOISE_A, seed=3)
    m = measure_sweeps(noisy, FS, np.full(100, 0.04), P)
    assert (m["decay_components"] == 2).all()
    # the truth at each sweep's own fit start (noise moves the first crossing of half the peak)
    expected, fraction = _weighted(components, _fit_start_s(noisy))
    errors = {
        "tau_w": np.abs(m["decay_tau_weighted_s"] / expected - 1),
        "fast_fraction": np.abs(m["decay_fast_fraction"] / fraction - 1),
        "tau_fast": np.abs(m["decay_tau_fast_s"] / T1 - 1),
        "tau_slow": np.abs(m["decay_tau_slow_s"] / T2 - 1),
    }
    print("relative errors (median, max) over 100 noisy sweeps:",
          {k: (round(float(np.median(v)), 4), round(float(v.max()), 4)) for k, v in errors.items()})  # fmt: skip
    # one noisy sweep, a 50 % - 10 % window: a few % each (300 sweeps: tau_w bias +0.5 %, SD 2 %)
    assert np.median(errors["tau_w"]) < 0.03 and errors["tau_w"].max() < 0.07
    assert np.median(errors["tau_fast"]) < 0.04 and np.median(errors["tau_slow"]) < 0.04
    assert errors["tau_fast"].max() < 0.15 and errors["tau_slow"].max() < 0.2
    assert abs(np.mean(m["decay_tau_weighted_s"] / expected) - 1) < 0.01  # no bias
    # the fit start jitters with the noise and moves the fast fraction with it: why the truth uses it
    shift = np.abs(_fit_start_s(noisy) - _fit_start_s(clean)[0])
    assert shift.max() > 0.5e-3


def test_single_exponential_keeps_one_component_and_tau_w_is_tau():
    tau = 0.09
    noisy = _sweeps([(150e-12, tau)], n_sweeps=400, noise_a=NOISE_A, seed=4)
    m = measure_sweeps(noisy, FS, np.full(400, 0.04), P)
    one = m["decay_components"] == 1
    # the F-test at alpha = 0.01 on white noise: about 1 % of sweeps keep a second component
    assert one.mean() > 0.97
    assert (m["decay_tau_weighted_s"][one] == m["decay_tau_s"][one]).all()
    assert np.isnan(m["decay_tau_fast_s"][one]).all() and np.isnan(m["decay_fast_fraction"][one]).all()
    error = np.abs(m["decay_tau_weighted_s"] / tau - 1)
    print("single exponential: kept two in", int((~one).sum()), "of 400; tau_w error max", error.max())
    assert error.max() < 0.05 and abs(np.mean(m["decay_tau_weighted_s"]) / tau - 1) < 0.005


@pytest.mark.parametrize(
    ("components", "change", "kept"),
    [
        # components closer than decay_biexp_min_tau_ratio (2) are one
        ([(A1, 0.03), (A2, 0.055)], {}, 1),
        ([(A1, 0.03), (A2, 0.055)], {"decay_biexp_min_tau_ratio": 1.5}, 2),
        # a component that hardly decays within the window (drift, an offset) does not count
        ([(150e-12, 0.05), (10e-12, 0.8)], {}, 1),
        ([(150e-12, 0.05), (10e-12, 0.8)], {"decay_biexp_max_tau_window_ratio": np.inf}, 2),
        # alpha = 0: no F statistic is significant enough
        ([(A1, T1), (A2, T2)], {"decay_biexp_alpha": 0.0}, 1),
        ([(A1, T1), (A2, T2)], {}, 2),
    ],
)
def test_each_clause_of_the_rule_is_a_parameter(components, change, kept):
    # The window starts at the (instantaneous) peak, which holds enough of both components to resolve them.
    p = dataclasses.replace(P, decay_fit_start_fraction=1.0, **change)
    x = _sweeps(components, n_sweeps=20, noise_a=0.5e-12, seed=5)
    m = measure_sweeps(x, FS, np.full(20, 0.04), p)
    assert (m["decay_components"] == kept).all(), m["decay_components"]
    if kept == 1:
        assert (m["decay_tau_weighted_s"] == m["decay_tau_s"]).all()
        assert np.isnan(m["decay_tau_fast_s"]).all()
    else:
        assert np.isfinite(m["decay_tau_fast_s"]).all()
        assert (m["decay_tau_weighted_s"] != m["decay_tau_s"]).all()


def test_simulator_kernel_keeps_one_component_and_tau_w_is_its_decay():
    """The simulator's EPSC is a difference of exponentials: past half the peak the rise has gone, one is kept."""
    rng = np.random.default_rng(6)
    t = np.arange(N) / FS
    decay_s = rng.uniform(0.05, 0.15, 40)
    rise_s = rng.uniform(0.005, 0.01, 40)
    x = np.stack([150e-12 * epsc_kernel(t - ONSET_S, r, d) for r, d in zip(rise_s, decay_s, strict=True)])
    x = x + rng.normal(0, NOISE_A, x.shape)
    p = dataclasses.replace(P, nmda_peak_smoothing_s=0.003)  # the default: the kernel rises smoothly
    m = measure_sweeps(x, FS, np.full(40, 0.04), p)
    assert (m["decay_components"] == 1).mean() >= 0.95
    error = np.abs(m["decay_tau_weighted_s"] / decay_s - 1)
    print("simulator kernel: tau_w vs decay tau, max relative error", error.max())
    assert error.max() < 0.05


def test_no_fit_gives_nan_and_zero_components():
    m = measure_sweeps(np.zeros((2, N)), FS, [0.04, -0.07], P)
    assert (m["decay_components"] == 0).all()
    for key in ("decay_tau_s", "decay_tau_weighted_s", "decay_tau_fast_s", "decay_tau_slow_s", "decay_fast_fraction"):
        assert np.isnan(m[key]).all(), key


def test_cell_summary_stores_the_weighted_taus_and_nmda_components():
    components = [(A1, T1), (A2, T2)]
    x = _sweeps(components, n_sweeps=6, noise_a=NOISE_A, seed=7)
    m = measure_sweeps(x, FS, np.full(6, 0.04), P)
    s = summarize_cell(m, np.ones(6, bool), x, FS, P)
    per_sweep, _ = _weighted(components, _fit_start_s(x))
    assert s["nmda_decay_tau_weighted_s"] == pytest.approx(np.mean(per_sweep), rel=0.03)  # 6 sweeps, SD 2 % each
    expected, fraction = _weighted(components, _fit_start_s(x.mean(0))[0])
    assert s["nmda_decay_tau_weighted_average_s"] == pytest.approx(expected, rel=0.02)
    assert s["nmda_decay_tau_fast_average_s"] == pytest.approx(T1, rel=0.03)
    assert s["nmda_decay_tau_slow_average_s"] == pytest.approx(T2, rel=0.03)
    assert s["nmda_decay_fast_fraction_average"] == pytest.approx(fraction, rel=0.02)
    assert np.isnan(s["ampa_decay_tau_weighted_s"]) and np.isnan(s["ampa_decay_tau_weighted_average_s"])


def test_single_fit_start_is_the_two_component_start():
    """The two-component fit is started from the single fit: rows the single fit cannot fit get no fit."""
    t = np.arange(200) / FS
    amp, tau = fit_exponential_decay(t, np.exp(t / 0.01)[None, :])
    fit = fit_biexponential_decay(t, np.exp(t / 0.01)[None, :], start=(amp, tau))
    assert np.isnan(tau[0]) and not fit["converged"][0] and np.isnan(fit["tau_fast_s"][0])
