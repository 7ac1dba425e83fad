"""Relative radiometric normalisation of the after epoch onto the before.

Reduced-major-axis gain and offset per band, fitted on pseudo-invariant
pixels found iteratively so that real change does not pull the fit, and the
robust spreads (MAD; lower quartile of absolute deviations) used for noise.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fit_normalisation", "apply_normalisation", "scene_brightness"]


def _robust_spread(values: np.ndarray) -> float:
    med = np.median(values)
    mad = np.median(np.abs(values - med))
    return float(1.4826 * mad) or float(values.std()) or 1.0


def _quiet_spread(values: np.ndarray) -> float:
    """Spread of the unchanged majority, from the lower quartile of absolute deviations.

    For Gaussian noise it equals the standard deviation (the 25 % quantile of
    ``|z|`` is 0.3186); unlike the MAD it stays put while up to three
    quarters of the values are contaminated by haze, change or clutter.
    """
    med = np.median(values)
    q = np.percentile(np.abs(values - med), 25)
    return float(q / 0.3186) or _robust_spread(values)


def _reduced_major_axis(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Reduced major axis line ``y = a x + b`` (``a = std(y) / std(x)``).

    Symmetric in x and y like orthogonal regression, but it stays bounded
    when the correlation is weak (orthogonal regression then swings towards
    the axis of larger variance).
    """
    sx, sy = x.std(), y.std()
    a = float(sy / sx) if sx > 0 and sy > 0 else 1.0
    return a, float(y.mean() - a * x.mean())


def fit_normalisation(
    before: np.ndarray,
    after: np.ndarray,
    valid: np.ndarray,
    *,
    iterations: int = 6,
    max_samples: int = 50_000,
    inlier_magnitude: float = 3.0,
    rng: int | np.random.Generator = 0,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Fit a per-band linear map ``after ≈ gain * before + offset``.

    The fit starts from matching the medians and interquartile ranges, keeps
    the better-agreeing half of the pixels for two passes, then alternates
    between a reduced-major-axis regression on the pseudo-invariant
    pixels and re-selecting those pixels as the ones whose standardised
    residual vector is shorter than ``inlier_magnitude``. Large real changes
    (harvest, construction) fall out of the inlier set after the first pass.

    Parameters
    ----------
    before, after : (B, M, N) ndarray
        Co-registered epochs.
    valid : (M, N) ndarray of bool
        Pixels with data in both.
    iterations : int
        Refinement passes.
    max_samples : int
        Random sample size (fixed seed: the fit is deterministic).
    inlier_magnitude : float
        Residual length, in robust spreads, below which a pixel is invariant.
    rng : int or numpy.random.Generator
        Seed for the pixel sample.

    Returns
    -------
    gain, offset : (B,) ndarray
        Map from before units to after units.
    invariant_share : float
        Share of sampled pixels used in the final fit.
    """
    rng = np.random.default_rng(rng)
    idx = np.flatnonzero(valid.ravel())
    if idx.size == 0:
        bands = before.shape[0]
        return np.ones(bands), np.zeros(bands), 0.0
    if idx.size > max_samples:
        idx = np.sort(rng.choice(idx, max_samples, replace=False))
    x = before.reshape(before.shape[0], -1)[:, idx].astype(np.float64)
    y = after.reshape(after.shape[0], -1)[:, idx].astype(np.float64)
    bands = x.shape[0]
    gain = np.ones(bands)
    offset = np.zeros(bands)
    for b in range(bands):
        qx = np.percentile(x[b], [25, 50, 75])
        qy = np.percentile(y[b], [25, 50, 75])
        gain[b] = (qy[2] - qy[0]) / (qx[2] - qx[0]) if qx[2] > qx[0] else 1.0
        offset[b] = qy[1] - gain[b] * qx[1]
    inliers = np.ones(x.shape[1], bool)
    for it in range(iterations):
        resid = y - (gain[:, None] * x + offset[:, None])
        spread = np.array([_robust_spread(r[inliers]) for r in resid])
        length = np.sqrt(np.mean((resid / spread[:, None]) ** 2, axis=0))
        if it < 2:
            # The first fits can be pulled by widespread change: keep the half
            # that agrees best before switching to the spread-based rule.
            new_inliers = length <= np.median(length)
        else:
            new_inliers = length < inlier_magnitude
        if new_inliers.sum() < max(50, 0.05 * x.shape[1]):
            break
        inliers = new_inliers
        for b in range(bands):
            gain[b], offset[b] = _reduced_major_axis(x[b, inliers], y[b, inliers])
    return gain, offset, float(inliers.mean())


def apply_normalisation(after: np.ndarray, gain: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Bring ``after`` onto the radiometric scale of ``before``.

    Parameters
    ----------
    after : (B, M, N) ndarray
    gain, offset : (B,) ndarray
        From :func:`fit_normalisation`.

    Returns
    -------
    (B, M, N) ndarray of float32
        ``(after - offset) / gain``.
    """
    out = after.astype(np.float32)  # a copy: the input is not changed
    out -= np.asarray(offset, np.float32)[:, None, None]
    out *= (1.0 / np.asarray(gain, np.float64)).astype(np.float32)[:, None, None]
    return out


def scene_brightness(image: np.ndarray, valid: np.ndarray) -> float:
    """Median band-mean of the valid pixels (subsampled to about 10^6 pixels).

    Parameters
    ----------
    image : (B, M, N) ndarray
    valid : (M, N) ndarray of bool

    Returns
    -------
    float
    """
    step = max(1, int(np.sqrt(valid.size / 1e6)))
    sample = image[:, ::step, ::step].mean(axis=0)[valid[::step, ::step]]
    return float(np.median(sample)) if sample.size else float(image.mean())
