"""Model inputs: band order, per-image robust levels, and the resolution code.

Pure array functions shared by training and inference. Each epoch becomes
six channels: red, green, blue and near-infrared stretched to about 0–1 by
the image's own 2nd and 98th percentiles (so 8-bit RGB and 16-bit GF-2
reflectance look alike to the network), a channel that says whether the
near-infrared band is real (1) or absent and zero-filled (0), and a channel
holding the ground sampling distance as ``log10(metres)``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["MODEL_BANDS", "CHANNELS", "robust_levels", "stretch", "model_bands", "epoch_channels", "gsd_code"]

#: Bands the network sees, in order; ``nir`` is zero-filled where absent.
MODEL_BANDS = ("red", "green", "blue", "nir")

#: Channels per epoch: the four bands, the NIR-present flag, the GSD code.
CHANNELS = len(MODEL_BANDS) + 2

_LOW, _HIGH = 2.0, 98.0


def robust_levels(image: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Per-band 2nd and 98th percentiles of the valid pixels.

    Parameters
    ----------
    image : (B, M, N) ndarray
        Any numeric dtype.
    valid : (M, N) ndarray of bool, optional
        Pixels to use (default: all).

    Returns
    -------
    (B, 2) ndarray of float64
        Low and high level per band; ``high > low`` always (a constant band,
        or one whose levels are within 1e-6 of each other, gets a width of 1).

    Examples
    --------
    >>> img = np.arange(101, dtype=np.uint8)[None, None, :]
    >>> robust_levels(img).tolist()
    [[2.0, 98.0]]
    """
    bands = image.reshape(image.shape[0], -1)
    if valid is not None:
        bands = bands[:, np.asarray(valid).ravel()]
    if bands.shape[1] == 0:
        return np.tile([0.0, 1.0], (image.shape[0], 1))
    levels = np.percentile(bands.astype(np.float64), [_LOW, _HIGH], axis=1).T
    # a constant band, or one whose levels differ by a rounding residue (a width that small would
    # overflow float32 in the stretch), gets a width of 1
    flat = (levels[:, 1] - levels[:, 0]) <= 1e-6 * np.maximum(1.0, np.abs(levels[:, 0]))
    levels[flat, 1] = levels[flat, 0] + 1.0
    return levels


def stretch(image: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Map each band's levels to 0 and 1, clipped to [-0.5, 1.5].

    Parameters
    ----------
    image : (B, M, N) ndarray
    levels : (B, 2) ndarray
        From :func:`robust_levels`.

    Returns
    -------
    (B, M, N) ndarray of float32
    """
    low = np.asarray(levels[:, 0], np.float32)[:, None, None]
    width = np.asarray(levels[:, 1] - levels[:, 0], np.float32)[:, None, None]
    out = (image.astype(np.float32) - low) / width
    return np.clip(out, -0.5, 1.5, out=out)


def gsd_code(gsd_m: float) -> float:
    """The resolution channel's value: ``log10`` of the pixel size in metres."""
    return float(np.log10(max(float(gsd_m), 1e-3)))


def model_bands(image: np.ndarray, roles: Mapping[str, int], levels: np.ndarray) -> np.ndarray:
    """The four bands the network sees (red, green, blue, nir), each stretched by its levels.

    Parameters
    ----------
    image : (B, M, N) ndarray
        Bands in file order.
    roles : mapping of str to int
        Band index of each role present; a missing ``nir`` is zero-filled.
    levels : (B, 2) ndarray
        Robust levels per file band (see :func:`robust_levels`).

    Returns
    -------
    (4, M, N) ndarray of float32
    """
    levels = np.asarray(levels)
    out = np.zeros((len(MODEL_BANDS),) + image.shape[1:], np.float32)
    for k, role in enumerate(MODEL_BANDS):
        if role in roles:
            i = roles[role]
            out[k] = stretch(image[i:i + 1], levels[i:i + 1])[0]
    return out


def epoch_channels(image: np.ndarray, roles: Mapping[str, int], levels: np.ndarray,
                   gsd_m: float, *, use_nir: bool = True) -> np.ndarray:
    """One epoch as the network's six input channels.

    Parameters
    ----------
    image : (B, M, N) ndarray
        The epoch's bands in file order.
    roles : mapping of str to int
        Band index of ``red``, ``green``, ``blue`` and, optionally, ``nir``.
    levels : (B, 2) ndarray
        Robust levels of this epoch (whole image, not the window: windows
        must see the same stretch for results not to depend on tiling).
    gsd_m : float
        Ground sampling distance in metres.
    use_nir : bool
        Give the network the near-infrared band where there is one; False
        for models trained on red, green and blue only (their card says
        ``"uses_nir": false``), which see the NIR channel and its flag as 0.

    Returns
    -------
    (6, M, N) ndarray of float32
    """
    missing = [r for r in ("red", "green", "blue") if r not in roles]
    if missing:
        raise ValueError(f"the change model needs red, green and blue bands; missing {missing}")
    out = np.empty((CHANNELS,) + image.shape[1:], np.float32)
    out[:4] = model_bands(image, roles, levels)
    has_nir = use_nir and "nir" in roles
    if not has_nir:
        out[3] = 0.0
    out[4] = 1.0 if has_nir else 0.0
    out[5] = gsd_code(gsd_m)
    return out
