"""How the after epoch relates to the before: one model for the whole pair.

Co-registration shift, radiometric gain and offset, the noise spread of the
normalised difference and each epoch's robust levels (the stretch the change
network sees) are estimated once, from a fixed set of sample windows spread
over the image, and then applied to every processing window.
The samples do not depend on the processing window size, so neither do the
results.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from rasterio.windows import Window

from ..errors import NoOverlapError
from ..raster.difference import noise_spread, smooth
from ..raster.radiometry import apply_normalisation, fit_normalisation, scene_brightness
from ..raster.register import apply_shift, estimate_shift
from .windows import HALO, Tile, tile_windows

__all__ = ["PairModel", "sample_tiles", "estimate_pair_model", "shift_window", "normalise_window",
           "shifted_valid", "NOISE_SIGMA"]


@dataclass(frozen=True)
class PairModel:
    """The estimated relation between the epochs.

    Attributes
    ----------
    shift : (float, float)
        ``(dy, dx)`` pixels applied to the after epoch (see
        :func:`weipian.raster.register.apply_shift`).
    gain, offset : tuple of float
        Per band, ``after = gain * before + offset``.
    noise : tuple of float
        Per band robust spread of the smoothed, normalised difference.
    invariant_share : float
        Share of sampled pixels used for the normalisation.
    sampled_pixels : int
    brightness : float
        Median band-mean of the before epoch's sampled pixels (the scene's
        typical land brightness; water is darker).
    levels_before, levels_after : tuple of (float, float)
        Per band, the 2nd and 98th percentiles of each epoch's sampled valid
        pixels (see :func:`weipian.learn.inputs.robust_levels`).
    """

    shift: tuple
    gain: tuple
    offset: tuple
    noise: tuple
    invariant_share: float
    sampled_pixels: int
    brightness: float
    levels_before: tuple = ()
    levels_after: tuple = ()

    def to_dict(self) -> dict:
        """Plain JSON-ready dict."""
        def lst(v):
            return [lst(x) for x in v] if isinstance(v, tuple) else v

        return {k: lst(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "PairModel":
        """Inverse of :meth:`to_dict`."""
        def tup(v):
            return tuple(tup(x) for x in v) if isinstance(v, list) else v

        return cls(**{k: tup(v) for k, v in d.items()})


def sample_tiles(height: int, width: int, *, size: int = 256, count: int = 16) -> list[Tile]:
    """Up to ``count`` windows of ``size`` pixels spread evenly over the image.

    Examples
    --------
    >>> len(sample_tiles(4000, 4000)), len(sample_tiles(200, 200))
    (16, 1)
    """
    tiles = tile_windows(height, width, size, halo=HALO)
    if len(tiles) <= count:
        return tiles
    picks = np.unique(np.linspace(0, len(tiles) - 1, count).round().astype(int))
    return [tiles[i] for i in picks]


def shifted_valid(valid: np.ndarray, shift) -> np.ndarray:
    """Pixels whose shifted value was interpolated from valid pixels only.

    Pixels that the shift brings in from beyond the array edge are invalid.
    """
    return apply_shift(valid.astype(np.float32), shift, border=0.0) > np.float32(0.999)


def shift_window(after: np.ndarray, valid: np.ndarray, model: PairModel):
    """Shift a read window of the after epoch onto the before grid.

    Returns
    -------
    after : (B, M, N) float32
    valid : (M, N) bool
        Also False where the shift brought pixels in from beyond the window.
    """
    if tuple(model.shift) == (0.0, 0.0):
        return after.astype(np.float32, copy=False), valid
    return apply_shift(after, model.shift), valid & shifted_valid(valid, model.shift)


def normalise_window(after: np.ndarray, model: PairModel) -> np.ndarray:
    """The (shifted) after epoch in the before epoch's radiometry (a new array)."""
    return apply_normalisation(after, np.asarray(model.gain), np.asarray(model.offset))


#: Gaussian sigma (pixels) of the smoothing before the noise spread is measured.
NOISE_SIGMA = 1.0


def estimate_pair_model(reader, *, crop: int = 1024,
                        workers: int | None = None, clouds=None,
                        resolution_m: float = 1.0) -> PairModel:
    """Estimate shift, normalisation and noise from sample windows.

    Parameters
    ----------
    reader : weipian.io.PairReader
    crop : int
        Side of the central window used for the shift.
    workers : int, optional
        Threads reading the samples (default: all cores).
    clouds : weipian.raster.clouds.CloudParams, optional
        Leave clouds and shadows out of the normalisation and noise samples.
    resolution_m : float
        Pixel size in metres (for the cloud detector).

    Returns
    -------
    PairModel

    Raises
    ------
    NoOverlapError
        If the sample windows hold no pixel with data in both epochs.
    """
    from ..learn.inputs import robust_levels

    tiles = sample_tiles(*reader.shape)
    shift, reads = _read_samples(reader, tiles, crop, workers)
    samples = [(b, *_shifted(a, v, shift), tile.inner) for tile, (b, a, v) in zip(tiles, reads)]
    B, A, V = _pooled(samples)
    if not V.any():
        raise NoOverlapError(
            f"{reader.spec.after}: has no valid pixel where {reader.spec.before} has data; "
            "check nodata values and that the epochs cover the same area"
        )
    gain, offset, share = fit_normalisation(B, A, V)
    brightness = scene_brightness(B, V)
    if clouds is not None:  # clouds and shadows would widen the noise: leave them out and refit
        samples = _without_clouds(samples, reader.roles, brightness, gain, offset, clouds, resolution_m)
        clear = _pooled(samples)[2]
        if clear.any():
            V = clear
            gain, offset, share = fit_normalisation(B, A, V)
    # the levels are percentiles: every 4th sampled pixel (a quarter of a million) gives them as well
    Bs, As, Vs = B[..., ::4], A[..., ::4], V[..., ::4]
    return PairModel(
        levels_before=tuple((float(lo), float(hi)) for lo, hi in robust_levels(Bs, Vs)),
        levels_after=tuple((float(lo), float(hi)) for lo, hi in robust_levels(As, Vs)),
        shift=(round(float(shift[0]), 4), round(float(shift[1]), 4)),
        gain=tuple(float(g) for g in gain), offset=tuple(float(o) for o in offset),
        noise=tuple(float(n) for n in _noise(samples, gain, offset)), invariant_share=float(share),
        sampled_pixels=int(V.sum()), brightness=brightness,
    )


def _read_samples(reader, tiles, crop: int, workers):
    """The shift, from the central crop, and the sample windows, read on threads.

    The central crop is read first and its shift estimated on this thread
    while the pool reads the samples (GDAL and the FFT release the GIL).
    """
    from .readers import read_window, reading_threads

    height, width = reader.shape
    h, w = min(crop, height), min(crop, width)
    centre = Window((width - w) // 2, (height - h) // 2, w, h)
    with reading_threads(reader.spec, workers) as pool:
        centre_read = pool.submit(read_window, reader.spec, centre)
        sample_reads = [pool.submit(read_window, reader.spec, t.read) for t in tiles]
        shift = _centre_shift(centre_read.result())
        reads = [r.result() for r in sample_reads]
    return shift, reads


def _centre_shift(centre) -> tuple[float, float]:
    """:func:`weipian.raster.register.estimate_shift` on the central crop's ``(before, after, valid)``."""
    b, a, v = centre
    return estimate_shift(b, a, valid=v) if v.any() else (0.0, 0.0)


def _shifted(after, valid, shift):
    if tuple(shift) == (0.0, 0.0):
        return after, valid
    return apply_shift(after, shift), valid & shifted_valid(valid, shift)


def _pooled(samples):
    """The cores of all samples side by side: before (B, 1, P), after (B, 1, P), valid (1, P)."""
    B = np.concatenate([b[:, r, c].reshape(b.shape[0], -1) for b, _, _, (r, c) in samples], axis=1)
    A = np.concatenate([a[:, r, c].reshape(a.shape[0], -1) for _, a, _, (r, c) in samples], axis=1)
    V = np.concatenate([v[r, c].ravel() for _, _, v, (r, c) in samples])
    return B[:, None, :], A[:, None, :], V[None, :]


def _without_clouds(samples, roles, brightness, gain, offset, clouds, resolution_m):
    from ..raster.clouds import cloud_masks

    kept = []
    for b, a, v, inner in samples:
        for image in (b, apply_normalisation(a, gain, offset)):
            cloud, shadow = cloud_masks(image, roles, brightness, valid=v, params=clouds,
                                        resolution_m=resolution_m)
            v = v & ~cloud & ~shadow
        kept.append((b, a, v, inner))
    return kept


def _noise(samples, gain, offset) -> np.ndarray:
    """Robust spread of the smoothed, normalised difference per band."""
    diffs_b, diffs_a, diffs_v = [], [], []
    for b, a, v, (r, c) in samples:
        sb = smooth(b, NOISE_SIGMA)[:, r, c]
        sa = smooth(apply_normalisation(a, gain, offset), NOISE_SIGMA)[:, r, c]
        diffs_b.append(sb.reshape(sb.shape[0], -1))
        diffs_a.append(sa.reshape(sa.shape[0], -1))
        diffs_v.append(v[r, c].ravel())
    return noise_spread(np.concatenate(diffs_b, 1)[:, None, :], np.concatenate(diffs_a, 1)[:, None, :],
                        np.concatenate(diffs_v)[None, :])
