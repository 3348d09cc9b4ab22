"""Single-exponential decay fits of many EPSCs at once (vectorised least squares)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from nwb_ketamine.analysis.epsc_parameters import EpscParameters


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


def fit_decay(y, ys, ipk, pk, fs, p: EpscParameters) -> np.ndarray:
    """Decay tau of positive EPSCs ``y`` (rows), between the fractions of the peak found on ``ys``.

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
        The analysis parameters (fit fractions, fit end, minimum number of fit points).

    Returns
    -------
    numpy.ndarray
        The time constant of each row (s); NaN where the fit is impossible or fails.
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
    _, tau = fit_exponential_decay(offsets / fs, taken, mask)
    return np.where(length >= p.min_decay_fit_points, tau, np.nan)


def _weighted_line(t: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row weighted least squares ``y = a - k t``; returns (a, k)."""
    sw = w.sum(1)
    mt = (w * t).sum(1) / sw
    my = (w * y).sum(1) / sw
    dt = t - mt[:, None]
    slope = (w * dt * (y - my[:, None])).sum(1) / (w * dt * dt).sum(1)
    return my - slope * mt, -slope
