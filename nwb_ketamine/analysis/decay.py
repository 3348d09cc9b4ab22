"""Decay fits of many EPSCs at once (vectorised least squares): one exponential, two, and the weighted tau.

Every row is fitted on the same window: from the first sample after the peak below
``decay_fit_start_fraction`` of it to the first below ``decay_fit_end_fraction``
(:class:`~nwb_ketamine.analysis.epsc_parameters.EpscParameters`).

- The single exponential ``A exp(-t / tau)`` gives ``tau`` (as before).
- Two exponentials ``A1 exp(-t / tau1) + A2 exp(-t / tau2)`` (the usual NMDAR description) are fitted
  on the same samples, started from the single fit, and give the amplitude-weighted time constant
  ``tau_w = (A1 tau1 + A2 tau2) / (A1 + A2)``.
- The amplitudes are those at the **start of the fit window**, where the data are fitted, not
  extrapolated back to the peak: extrapolating a fast component from the fit start to the peak
  multiplies it by ``exp(dt / tau_fast)``, and on simulated noisy sweeps that turned the few
  false-positive two-component fits into weighted taus 60 % off (one exponential split in two), while
  amplitudes at the fit start keep such a tau_w close to the single tau. This weights the fast
  component less than a fit started at the peak does; set ``decay_fit_start_fraction = 1`` to start
  the window (and the amplitudes) at the peak (the fit then sees the end of the rise).

The rule (one, documented and tested). The two-component fit is **attempted** only where a screen
finds curvature in the single fit: its residuals regressed on its own tangent directions
(``exp(-t/tau)``, ``t exp(-t/tau)``) and on ``t^2 exp(-t/tau)``, the direction in which two
exponentials first depart from one, give an F-test p below ``decay_biexp_screen_alpha`` (looser
than ``decay_biexp_alpha``). It is linear and cheap, and it spares the iterative fit in the sweeps
that are one exponential, where the fit would wander along the degenerate valley of two merging
components (on the simulated sweeps this made ``measure_sweeps`` ~25 times slower). It is then **kept**
when all of

1. it converged, with both amplitudes positive (two decaying components of the same sign);
2. ``tau_fast`` at least two sample intervals (a faster component fits an outlying sample or an
   artefact, not a decay), and ``tau_slow / tau_fast >= decay_biexp_min_tau_ratio`` (closer
   components cannot be told apart; a single exponential split in two ends up here);
3. ``tau_slow <= decay_biexp_max_tau_window_ratio`` times the duration of the fit window (a slower
   component hardly decays within the window: it is a baseline offset or drift, not a decay);
4. the extra-sum-of-squares F-test of two against one component (2 and ``n - 4`` degrees of freedom)
   gives ``p < decay_biexp_alpha``.

Otherwise one component describes the decay: ``tau_w`` **is the single tau** and the component
columns are NaN, so ``tau_w`` is defined wherever ``tau`` is and comparable across cells and sweeps;
``components`` (2, 1, or 0 without any fit) says which case a value is. Caveat: the F-test assumes
independent noise; low-pass filtered recordings have fewer independent samples than samples, which
makes the test keep a second component more readily than its nominal level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.special import fdtrc

if TYPE_CHECKING:
    from nwb_ketamine.analysis.epsc_parameters import EpscParameters


def _f_sf(f: np.ndarray, dfn, dfd) -> np.ndarray:
    """``scipy.stats.f.sf(f, dfn, dfd)`` from ``scipy.special`` (importing ``scipy.stats`` costs a converter ~1 s).

    As ``stats.f.sf``: 1 for ``f <= 0``, NaN for NaN, 0 for infinity.
    """
    f = np.asarray(f, dtype=float)
    with np.errstate(invalid="ignore"):
        sf = fdtrc(dfn, dfd, np.where(f > 0, f, 0.0))
    return np.where(np.isnan(f), np.nan, np.where(f > 0, sf, 1.0))


def fit_exponential_decay(t_s, y, weights=None, iterations: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares fit of ``y = A exp(-t / tau)`` to every row at once.

    A weighted log-linear fit (weights ``y**2``, the inverse variance of ``log y`` for constant noise)
    gives the start; Gauss-Newton steps on the residuals in linear units then remove the bias the
    logarithm adds to noisy tails.

    Parameters
    ----------
    t_s
        Times, shape (n_samples,) or (n_rows, n_samples), in s.
    y
        Values to fit, shape (n_rows, n_samples); positive decaying signals.
    weights
        0/1 (or any non-negative) weight per sample, same shape as ``y``; NaN samples are ignored.
    iterations
        Gauss-Newton steps.

    Returns
    -------
    amplitude, tau_s : ndarray, shape (n_rows,)
        Fitted amplitude at ``t = 0`` and time constant; NaN where the fit is undefined or not decaying.
    """
    y = np.atleast_2d(np.asarray(y, dtype=float))
    t = np.broadcast_to(np.asarray(t_s, dtype=float), y.shape)
    w = np.ones_like(y) if weights is None else np.broadcast_to(np.asarray(weights, dtype=float), y.shape).copy()
    w = np.where(np.isfinite(y) & np.isfinite(t), w, 0.0)
    y = np.where(w > 0, y, 0.0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        # Log-linear start on the positive samples: log y = a - k t.
        pos = y > 0
        wl = np.where(pos, w * y**2, 0.0)
        ly = np.log(np.where(pos, y, 1.0))
        a0, k0 = _weighted_line(t, ly, wl)
        amp, k = np.exp(a0), k0
        for _ in range(iterations):
            e = np.exp(-k[:, None] * t)
            r = y - amp[:, None] * e
            ja, jk = e, -amp[:, None] * t * e  # d model / d A, d model / d k
            wja, wjk = w * ja, w * jk
            saa = (wja * ja).sum(1)
            sak = (wja * jk).sum(1)
            skk = (wjk * jk).sum(1)
            ra = (wja * r).sum(1)
            rk = (wjk * r).sum(1)
            det = saa * skk - sak * sak
            da = (skk * ra - sak * rk) / det
            dk = (saa * rk - sak * ra) / det
            good = np.isfinite(da) & np.isfinite(dk)
            amp = np.where(good, amp + da, amp)
            k = np.where(good, k + dk, k)
            if not np.any(good & (np.abs(dk) > 1e-12 * np.abs(k))):
                break
        tau = 1.0 / k
    bad = ~np.isfinite(tau) | (tau <= 0) | ~np.isfinite(amp)
    return np.where(bad, np.nan, amp), np.where(bad, np.nan, tau)


def fit_biexponential_decay(
    t_s, y, weights=None, start=None, tau_bounds_s=(0.0, np.inf), merge_ratio: float = 1.0, iterations: int = 100
) -> dict[str, np.ndarray]:
    """Least-squares fit of ``y = A1 exp(-t / tau1) + A2 exp(-t / tau2)`` to every row at once.

    Levenberg-Marquardt on (A1, log 1/tau1, A2, log 1/tau2) with one damping factor per row, all rows
    in one batch of 4 x 4 normal equations; rows leave the batch once converged: a step lowers the
    residual sum of squares by less than 1e-9 of it, no step lowers it, or ten steps lowered it by less
    than 1e-7 of it (a flat valley). The rates are fitted
    as logarithms so that both stay positive; the amplitudes are free (a negative one is reported, not
    prevented: the caller decides what to do with it). Each row is scaled by its single-exponential
    amplitude before fitting so that amplitudes and log rates are of order 1.

    Parameters
    ----------
    t_s
        Times, shape (n_samples,) or (n_rows, n_samples), in s.
    y
        Values to fit, shape (n_rows, n_samples); positive decaying signals.
    weights
        0/1 (or any non-negative) weight per sample, same shape as ``y``; NaN samples are ignored.
    start
        (amplitude, tau_s) of a single-exponential fit of the same rows (:func:`fit_exponential_decay`,
        computed when None). The start splits it in two: half the amplitude each, at ``tau / 2`` and
        ``2 tau``.
    tau_bounds_s
        (lowest, highest) time constant, scalars or one per row: each step is clipped into them, so a
        component drifting towards a constant (an offset, tau to infinity) stops at the bound instead
        of crawling there for many steps.
    merge_ratio
        A row whose slower tau comes within this factor of the faster one (after ten steps) stops, not
        converged: two merging components are one exponential, and the path along that valley is long.
        1 (the default) never stops a row.
    iterations
        Most Levenberg-Marquardt steps.

    Returns
    -------
    dict of str to ndarray, each of shape (n_rows,)
        ``amplitude_fast``, ``tau_fast_s``, ``amplitude_slow``, ``tau_slow_s`` (the component with the
        shorter tau is the fast one; amplitudes at ``t = 0``), ``rss`` (weighted residual sum of
        squares) and ``converged`` (bool). NaN (and not converged) where no fit was possible.
    """
    y = np.atleast_2d(np.asarray(y, dtype=float))
    t = np.broadcast_to(np.asarray(t_s, dtype=float), y.shape)
    w = np.ones_like(y) if weights is None else np.broadcast_to(np.asarray(weights, dtype=float), y.shape).copy()
    w = np.where(np.isfinite(y) & np.isfinite(t), w, 0.0)
    y = np.where(w > 0, y, 0.0)
    amp, tau = fit_exponential_decay(t, y, w) if start is None else (np.asarray(s, dtype=float) for s in start)
    n_rows = y.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(np.isfinite(amp) & (amp != 0), amp, np.nan)
        theta = np.column_stack([np.full(n_rows, 0.5), np.log(2.0 / tau), np.full(n_rows, 0.5), np.log(0.5 / tau)])
        yn = y / scale[:, None]
    active = np.isfinite(theta).all(1) & ((w > 0).sum(1) >= 4)
    yn = np.where(active[:, None], yn, 0.0)
    rss = np.where(active, _rss2(theta, t, yn, w), np.nan)
    lam = np.full(n_rows, 1e-3)
    with np.errstate(divide="ignore"):
        lo_tau, hi_tau = (np.broadcast_to(np.asarray(b, dtype=float), (n_rows,)) for b in tau_bounds_s)
        log_k_min, log_k_max = np.log(1.0 / hi_tau), np.log(1.0 / lo_tau)
    converged = np.zeros(n_rows, dtype=bool)
    checkpoint = rss.copy()
    for iteration in range(iterations):
        rows = np.flatnonzero(active & ~converged)
        if rows.size == 0:
            break
        th, tt, yy, ww = theta[rows], t[rows], yn[rows], w[rows]
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            k1, k2 = np.exp(th[:, 1:2]), np.exp(th[:, 3:4])
            e1, e2 = np.exp(-k1 * tt), np.exp(-k2 * tt)
            r = yy - th[:, 0:1] * e1 - th[:, 2:3] * e2
            jac = np.stack([e1, -th[:, 0:1] * k1 * tt * e1, e2, -th[:, 2:3] * k2 * tt * e2], axis=1)
            jw = jac * ww[:, None, :]
            hess = jw @ jac.transpose(0, 2, 1)  # batched matmul (BLAS); einsum here is ~10x slower
            grad = (jw @ r[:, :, None])[..., 0]
        ok = np.isfinite(hess).all((1, 2)) & np.isfinite(grad).all(1)
        hess, grad = np.where(ok[:, None, None], hess, np.eye(4)), np.where(ok[:, None], grad, 0.0)
        diag = np.diagonal(hess, axis1=1, axis2=2)
        ok &= diag.max(1) > 0
        # Marquardt's scaled damping, with a floor so that a vanished direction (a zero amplitude) stays
        # solvable; the damped matrix is then positive definite.
        damping = lam[rows, None] * np.maximum(diag, 1e-9 * diag.max(1, keepdims=True) + 1e-300)
        step = np.linalg.solve(hess + damping[:, :, None] * np.eye(4), grad[..., None])[..., 0]
        trial = th + step
        for j in (1, 3):
            trial[:, j] = np.clip(trial[:, j], log_k_min[rows], log_k_max[rows])
        new = _rss2(trial, tt, yy, ww)
        better = ok & (new < rss[rows])
        drop = rss[rows] - np.where(better, new, rss[rows])
        theta[rows] = np.where(better[:, None], trial, th)
        rss[rows] = np.where(better, new, rss[rows])
        lam[rows] = np.where(better, np.maximum(lam[rows] / 3.0, 1e-12), lam[rows] * 4.0)
        # Converged: an accepted step that no longer lowers the residuals, or no step lowers them at all.
        converged[rows] = (better & (drop <= 1e-9 * rss[rows])) | (lam[rows] > 1e10)
        active[rows] &= ok
        if iteration % 10 == 9:
            # Crawling along a flat valley (two components merging, or one vanishing): the residuals
            # fell by less than 1e-7 in ten steps, so the parameters along it are not determined anyway.
            converged |= active & (checkpoint - rss <= 1e-7 * rss)
            checkpoint = rss.copy()
            active &= converged | (np.abs(theta[:, 1] - theta[:, 3]) > np.log(merge_ratio))
    a1, a2 = theta[:, 0] * scale, theta[:, 2] * scale
    with np.errstate(over="ignore"):
        t1, t2 = np.exp(-theta[:, 1]), np.exp(-theta[:, 3])
    swap = t1 > t2
    good = active & converged & np.isfinite(t1) & np.isfinite(t2) & np.isfinite(a1) & np.isfinite(a2)
    out = {
        "amplitude_fast": np.where(swap, a2, a1),
        "tau_fast_s": np.where(swap, t2, t1),
        "amplitude_slow": np.where(swap, a1, a2),
        "tau_slow_s": np.where(swap, t1, t2),
    }
    out = {key: np.where(good, value, np.nan) for key, value in out.items()}
    out["rss"] = np.where(good, rss * scale**2, np.nan)
    out["converged"] = good
    return out


def fit_decay(y, ys, ipk, pk, fs, p: EpscParameters) -> dict[str, np.ndarray]:
    """Decay of positive EPSCs ``y`` (rows), between the fractions of the peak found on ``ys``.

    Parameters
    ----------
    y
        EPSCs made positive, one sweep per row, from the stimulus (A).
    ys
        ``y`` smoothed; the fit range is found on it.
    ipk
        Sample index of each row's peak.
    pk
        Each row's peak amplitude (A, positive).
    fs
        Sampling rate (Hz).
    p
        The analysis parameters (fit fractions, fit end, minimum number of fit points, the
        two-component rule).

    Returns
    -------
    dict of str to ndarray, each of shape (n_rows,)
        ``tau_s`` (single exponential), ``tau_weighted_s`` (see the module docstring: the single tau
        when one component is kept), ``tau_fast_s``, ``tau_slow_s`` and ``fast_fraction`` (fast
        amplitude / sum, at the fit start; NaN when one component is kept), ``components`` (2, 1; 0 without
        a fit). NaN where the fit is impossible or fails.
    """
    n_rows, n = y.shape
    col = np.arange(n)[None, :]
    after = col >= ipk[:, None]
    with np.errstate(invalid="ignore"):
        below_start = after & (ys <= p.decay_fit_start_fraction * pk[:, None])
        below_end = after & (ys <= p.decay_fit_end_fraction * pk[:, None])
    i0 = np.where(below_start.any(1), below_start.argmax(1), n)
    below_end &= col >= i0[:, None]
    i1 = np.where(below_end.any(1), below_end.argmax(1), -1)  # no crossing: no fit
    length = np.where((ipk >= 0) & (pk > 0), np.clip(i1 - i0, 0, None), 0)
    # Gather each row's fit range to the front of a (rows, longest range) block: the fit then touches
    # only the samples it uses, whatever the search window.
    offsets = np.arange(max(1, int(length.max(initial=0))))[None, :]
    mask = offsets < length[:, None]
    taken = np.take_along_axis(y, np.clip(i0[:, None] + offsets, 0, n - 1), axis=1)
    t = offsets / fs
    amp, tau = fit_exponential_decay(t, taken, mask)
    tau = np.where(length >= p.min_decay_fit_points, tau, np.nan)
    fitted = np.isfinite(tau)
    two = _two_components(t, taken, mask, amp, tau, length, fs, p)
    with np.errstate(invalid="ignore", over="ignore"):
        a_fast, a_slow = two["amplitude_fast"], two["amplitude_slow"]  # at the fit start
        total = a_fast + a_slow
        keep = two["keep"] & fitted & np.isfinite(total) & (total > 0)
        weighted = (a_fast * two["tau_fast_s"] + a_slow * two["tau_slow_s"]) / total
        fast_fraction = a_fast / total
    nan = np.full(n_rows, np.nan)
    return {
        "tau_s": tau,
        "tau_weighted_s": np.where(keep, weighted, tau),
        "tau_fast_s": np.where(keep, two["tau_fast_s"], nan),
        "tau_slow_s": np.where(keep, two["tau_slow_s"], nan),
        "fast_fraction": np.where(keep, fast_fraction, nan),
        "components": np.where(keep, 2, np.where(fitted, 1, 0)),
    }


def _two_components(t, taken, mask, amp, tau, length, fs, p: EpscParameters) -> dict[str, np.ndarray]:
    """The two-component fit of the gathered windows and whether the rule keeps it (module docstring)."""
    n_rows = taken.shape[0]
    with np.errstate(invalid="ignore", over="ignore", under="ignore", divide="ignore"):
        u = t / tau[:, None]
        e = np.exp(-u)
        residual = np.where(mask, taken - amp[:, None] * e, 0.0) / amp[:, None]
        rss1 = (residual**2).sum(1)
        # Screen: the single fit's residuals regressed on its tangent directions (e, u e) and on the
        # curvature u^2 e, the direction in which two exponentials first leave one.
        basis = np.stack([e, u * e, u * u * e], axis=1) * mask[:, None, :]
        gram = basis @ basis.transpose(0, 2, 1)
        proj = (basis @ residual[:, :, None])[..., 0]
        finite = np.isfinite(gram).all((1, 2)) & np.isfinite(proj).all(1) & (length > 4)
        gram[~finite], proj[~finite] = np.eye(3), 0.0
        coef = np.linalg.solve(gram + 1e-12 * np.eye(3), proj[..., None])[..., 0]
        explained = (coef * proj).sum(1)
        f_screen = explained / ((rss1 - explained) / (length - 3))
        p_screen = np.where(finite, _f_sf(f_screen, 1, np.maximum(length - 3, 1)), np.nan)
    screened = np.flatnonzero(finite & np.isfinite(tau) & (p_screen < p.decay_biexp_screen_alpha))
    keys = ("amplitude_fast", "tau_fast_s", "amplitude_slow", "tau_slow_s", "rss")
    two = {key: np.full(n_rows, np.nan) for key in keys}
    two["converged"] = np.zeros(n_rows, dtype=bool)
    if screened.size:
        width = max(1, int(length[screened].max()))
        window_s = length[screened] / fs
        bounds = (0.5 / fs, window_s * max(10.0, 3.0 * p.decay_biexp_max_tau_window_ratio))  # past rule 3
        fit = fit_biexponential_decay(
            t[:, :width], taken[screened, :width], mask[screened, :width], start=(amp[screened], tau[screened]),
            tau_bounds_s=bounds, merge_ratio=1.0 + (p.decay_biexp_min_tau_ratio - 1.0) / 4,
        )  # fmt: skip
        for key, value in fit.items():
            two[key][screened] = value
    with np.errstate(invalid="ignore", over="ignore", under="ignore", divide="ignore"):
        dof = length - 4
        f = (rss1 * amp**2 - two["rss"]) / 2 / (two["rss"] / dof)
        p_value = np.where(dof > 0, _f_sf(f, 2, np.maximum(dof, 1)), np.nan)
        two["keep"] = (
            two["converged"]
            & (two["amplitude_fast"] > 0)
            & (two["amplitude_slow"] > 0)
            & (two["tau_fast_s"] >= 2.0 / fs)
            & (two["tau_slow_s"] >= p.decay_biexp_min_tau_ratio * two["tau_fast_s"])
            & (two["tau_slow_s"] <= p.decay_biexp_max_tau_window_ratio * length / fs)
            & (p_value < p.decay_biexp_alpha)
        )
    return two


def _weighted_line(t: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row weighted least squares ``y = a - k t``; returns (a, k)."""
    sw = w.sum(1)
    mt = (w * t).sum(1) / sw
    my = (w * y).sum(1) / sw
    dt = t - mt[:, None]
    slope = (w * dt * (y - my[:, None])).sum(1) / (w * dt * dt).sum(1)
    return my - slope * mt, -slope


def _rss2(theta: np.ndarray, t: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted residual sum of squares of the two-exponential model with parameters ``theta`` per row."""
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        model = theta[:, 0:1] * np.exp(-np.exp(theta[:, 1:2]) * t) + theta[:, 2:3] * np.exp(-np.exp(theta[:, 3:4]) * t)
        return (w * (y - model) ** 2).sum(1)
