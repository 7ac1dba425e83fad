"""Differences of two epochs: smoothing, noise spread, change magnitude, CVA + Otsu.

:func:`change_magnitude` is the change-vector length in units of each band's
robust noise spread (the lower quartile of absolute deviations, see
:func:`weipian.raster.radiometry._quiet_spread`); :func:`cva_otsu` is the
textbook baseline every accuracy figure is compared with.
"""

from __future__ import annotations

import numpy as np

from .radiometry import _quiet_spread

__all__ = ["smooth", "noise_spread", "change_magnitude", "cva_otsu"]


def smooth(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of each band (OpenCV, kernel radius ``ceil(3 sigma)``).

    Parameters
    ----------
    image : (B, M, N) ndarray
    sigma : float
        Pixels; 0 returns a float32 copy.

    Returns
    -------
    (B, M, N) ndarray of float32
    """
    import cv2

    if sigma <= 0:
        return image.astype(np.float32)
    k = 2 * int(np.ceil(3 * sigma)) + 1
    out = np.empty(image.shape, np.float32)
    for i, band in enumerate(image):
        cv2.GaussianBlur(band.astype(np.float32, copy=False), (k, k), sigma, dst=out[i],
                         borderType=cv2.BORDER_REFLECT)
    return out


def noise_spread(before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Robust spread of each band's difference over valid pixels (see :func:`_quiet_spread`).

    Parameters
    ----------
    before, after : (B, M, N) ndarray
    valid : (M, N) ndarray of bool

    Returns
    -------
    (B,) ndarray of float
        1.0 for bands without valid pixels or without spread.
    """
    sample = valid
    if valid.sum() > 500_000:
        step = int(np.sqrt(valid.sum() / 500_000)) + 1
        sample = np.zeros_like(valid)
        sample[::step, ::step] = valid[::step, ::step]
    noise = np.ones(before.shape[0])
    if sample.any():
        for b in range(before.shape[0]):
            diff = after[b][sample].astype(np.float32) - before[b][sample].astype(np.float32)
            noise[b] = _quiet_spread(diff)
    noise[~(noise > 0)] = 1.0
    return noise


def change_magnitude(
    before: np.ndarray, after: np.ndarray, valid: np.ndarray, *, noise: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Length of the change vector in robust noise units.

    Each band difference is divided by its robust spread (see
    :func:`noise_spread`; pass ``noise`` to use spreads estimated elsewhere,
    e.g. once for a whole image processed in windows), so the result is
    comparable across sensors and scenes: unchanged pixels have magnitudes
    around 1.

    Parameters
    ----------
    before, after : (B, M, N) ndarray
        Normalised, co-registered epochs.
    valid : (M, N) ndarray of bool
    noise : (B,) ndarray, optional

    Returns
    -------
    magnitude : (M, N) ndarray of float32
        0 where invalid.
    noise : (B,) ndarray
        The per-band spreads used as units.

    Examples
    --------
    >>> b = np.zeros((1, 4, 4)); a = b.copy(); a[0, 0, 0] = 10
    >>> a[0] += np.arange(16).reshape(4, 4) % 2 * 0.5
    >>> m, noise = change_magnitude(b, a, np.ones((4, 4), bool))
    >>> bool(m[0, 0] > 10 * m[0, 1])
    True
    """
    if noise is None:
        noise = noise_spread(before, after, valid)
    noise = np.asarray(noise, np.float64)
    magnitude = np.zeros(before.shape[1:], np.float32)
    for b in range(before.shape[0]):
        z = after[b] - before[b]
        z *= np.float32(1.0 / noise[b])
        magnitude += z * z
    magnitude = np.sqrt(magnitude * np.float32(1.0 / before.shape[0]))
    magnitude[~valid] = 0
    return magnitude, noise


def cva_otsu(before: np.ndarray, after: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Textbook change-vector analysis with an Otsu threshold (the baseline).

    Parameters
    ----------
    before, after : (B, M, N) ndarray
        Raw epochs on one grid (no normalisation, no co-registration).
    valid : (M, N) ndarray of bool, optional

    Returns
    -------
    (M, N) ndarray of bool
    """
    from skimage.filters import threshold_otsu

    diff = after.astype(np.float32) - before.astype(np.float32)
    magnitude = np.sqrt(np.sum(diff * diff, axis=0))
    if valid is None:
        valid = np.ones(magnitude.shape, bool)
    values = magnitude[valid]
    if values.size == 0 or values.min() == values.max():
        return np.zeros(magnitude.shape, bool)
    return (magnitude > threshold_otsu(values)) & valid
