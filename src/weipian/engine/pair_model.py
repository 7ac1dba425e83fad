"""How the after epoch relates to the before: one model for the whole pair.

Co-registration shift, radiometric gain and offset, and the noise spread of
the normalised difference are estimated once, from a fixed set of sample
windows spread over the image, and then applied to every processing window.
The samples do not depend on the processing window size, so neither do the
results.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from rasterio.windows import Window

from ..errors import NoOverlapError
from ..raster.difference import noise_spread, smooth
from ..raster.params import ChangeParams
from ..raster.radiometry import apply_normalisation, fit_normalisation, scene_brightness
from ..raster.register import apply_shift, estimate_shift
from .windows import HALO, Tile, tile_windows

__all__ = ["PairModel", "sample_tiles", "estimate_pair_model", "prepare_window", "shifted_valid"]


@dataclass(frozen=True)
class PairModel:
    """The estimated relation between the epochs.

    Attributes
    ----------
    shift : (float, float)
        ``(dy, dx)`` pixels applied to the after epoch (see
        :func:`weipian.change.apply_shift`).
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
    """

    shift: tuple
    gain: tuple
    offset: tuple
    noise: tuple
    invariant_share: float
    sampled_pixels: int
    brightness: float

    def to_dict(self) -> dict:
        """Plain JSON-ready dict."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "PairModel":
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})


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


def prepare_window(before, after, valid, model: PairModel):
    """Apply the model to one read window.

    Returns
    -------
    before : (B, M, N) float32
    after : (B, M, N) float32
        Shifted and normalised onto the before.
    valid : (M, N) bool
    """
    if tuple(model.shift) != (0.0, 0.0):
        after = apply_shift(after, model.shift)  # a new array: normalise it in place
        valid = valid & shifted_valid(valid, model.shift)
        after -= np.asarray(model.offset, np.float32)[:, None, None]
        after *= (1.0 / np.asarray(model.gain, np.float64)).astype(np.float32)[:, None, None]
        return before, after, valid
    after = apply_normalisation(after, np.asarray(model.gain), np.asarray(model.offset))
    return before, after, valid


def estimate_pair_model(reader, params: ChangeParams = ChangeParams(), *, crop: int = 1024,
                        workers: int | None = None, clouds=None,
                        resolution_m: float = 1.0) -> PairModel:
    """Estimate shift, normalisation and noise from sample windows.

    Parameters
    ----------
    reader : weipian.io.PairReader
    params : ChangeParams
        Only ``smooth_sigma`` is used (the noise is that of smoothed images).
    crop : int
        Side of the central window used for the shift.
    workers : int, optional
        Threads reading the samples (default: all cores).
    clouds : weipian.clouds.CloudParams, optional
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
    import dask

    from .readers import read_window, reading_threads

    height, width = reader.shape
    h, w = min(crop, height), min(crop, width)
    centre = Window((width - w) // 2, (height - h) // 2, w, h)
    tiles = sample_tiles(height, width)
    # All reads at once, on threads (GDAL releases the GIL while decoding).
    with reading_threads(reader.spec, workers) as pool:
        reads = dask.compute(*[dask.delayed(read_window)(reader.spec, win)
                               for win in [centre] + [t.read for t in tiles]],
                             scheduler="threads", pool=pool)
    b, a, v = reads[0]
    shift = estimate_shift(b, a, valid=v) if v.any() else (0.0, 0.0)

    samples = []
    for tile, (b, a, v) in zip(tiles, reads[1:]):
        if tuple(shift) != (0.0, 0.0):
            a = apply_shift(a, shift)
            v = v & shifted_valid(v, shift)
        samples.append((b, a, v, tile.inner))
    pooled = [(b[:, r, c].reshape(b.shape[0], -1), a[:, r, c].reshape(a.shape[0], -1),
               v[r, c].ravel()) for b, a, v, (r, c) in samples]
    B = np.concatenate([p[0] for p in pooled], axis=1)[:, None, :]
    A = np.concatenate([p[1] for p in pooled], axis=1)[:, None, :]
    V = np.concatenate([p[2] for p in pooled])[None, :]
    if not V.any():
        raise NoOverlapError(
            f"{reader.spec.after}: has no valid pixel where {reader.spec.before} has data; "
            "check nodata values and that the epochs cover the same area"
        )
    gain, offset, share = fit_normalisation(B, A, V)
    brightness = scene_brightness(B, V)
    if clouds is not None:  # clouds and shadows would widen the noise: leave them out and refit
        from ..raster.clouds import cloud_masks

        kept = []
        for b, a, v, inner in samples:
            for image in (b, apply_normalisation(a, gain, offset)):
                cloud, shadow = cloud_masks(image, reader.roles, brightness, valid=v, params=clouds,
                                            resolution_m=resolution_m)
                v = v & ~cloud & ~shadow
            kept.append((b, a, v, inner))
        samples = kept
        V = np.concatenate([v[r, c].ravel() for _, _, v, (r, c) in samples])[None, :]
        if V.any():
            gain, offset, share = fit_normalisation(B, A, V)

    diffs_b, diffs_a, diffs_v = [], [], []
    for b, a, v, (r, c) in samples:
        sb = smooth(b, params.smooth_sigma)[:, r, c]
        sa = smooth(apply_normalisation(a, gain, offset), params.smooth_sigma)[:, r, c]
        diffs_b.append(sb.reshape(sb.shape[0], -1))
        diffs_a.append(sa.reshape(sa.shape[0], -1))
        diffs_v.append(v[r, c].ravel())
    noise = noise_spread(np.concatenate(diffs_b, 1)[:, None, :], np.concatenate(diffs_a, 1)[:, None, :],
                         np.concatenate(diffs_v)[None, :])
    return PairModel(
        shift=(round(float(shift[0]), 4), round(float(shift[1]), 4)),
        gain=tuple(float(g) for g in gain), offset=tuple(float(o) for o in offset),
        noise=tuple(float(n) for n in noise), invariant_share=float(share),
        sampled_pixels=int(V.sum()), brightness=brightness,
    )
