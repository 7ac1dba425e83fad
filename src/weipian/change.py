"""The change core: pure array functions, no files.

Images are float arrays of shape ``(bands, rows, cols)`` holding reflectance
(or any scale shared by all bands of one epoch); ``roles`` maps ``"blue"``,
``"green"``, ``"red"`` and optionally ``"nir"`` to band indices; ``valid`` is a
boolean ``(rows, cols)`` array, False where either epoch has no data.

The steps, each usable on its own:

1. :func:`estimate_shift` / :func:`apply_shift` — sub-pixel co-registration by
   phase correlation.
2. :func:`fit_normalisation` / :func:`apply_normalisation` — relative
   radiometric normalisation of the after epoch onto the before epoch, fitted
   on pseudo-invariant pixels found iteratively so that real change does not
   pull the fit.
3. :func:`change_magnitude` — change vector length in units of the robust
   per-band noise spread.
4. :func:`surface_indices` / :func:`built_surface` — is a pixel a built
   surface (roof, concrete, asphalt) rather than vegetation, water or bare
   soil?
5. :func:`detect_change` — the flags for a target from ``CHANGE_TARGETS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage

__all__ = [
    "ChangeParams",
    "ChangeResult",
    "CHANGE_TARGETS",
    "estimate_shift",
    "apply_shift",
    "fit_normalisation",
    "apply_normalisation",
    "change_magnitude",
    "noise_spread",
    "smooth",
    "surface_indices",
    "built_surface",
    "detect_change",
    "clean_mask",
    "scene_brightness",
    "grow_mask",
    "cva_otsu",
]


@dataclass(frozen=True)
class ChangeParams:
    """Settings of the change core, all in image-independent units.

    Parameters
    ----------
    smooth_sigma : float
        Gaussian smoothing (pixels) of both epochs before differencing; absorbs
        sensor blur differences and residual misregistration.
    min_magnitude : float
        A pixel changed when its change vector is longer than this many robust
        noise spreads (see :func:`change_magnitude`).
    max_ndvi : float
        Built surfaces have NDVI below this (vegetation is above).
    min_ndwi : float
        Water has NDWI (green - nir) / (green + nir) above this.
    soil_slope : float
        Bare soil and senescent grass rise steadily from blue to nir (or red in
        RGB imagery): a normalised slope ``(long - blue) / (long + blue)`` above
        this marks soil-like surfaces, unless they are strongly red (tile).
    tile_redness : float
        ``(red - green) / (red + green)`` above this marks red tile roofs.
    open_radius, close_radius : int
        Radii (pixels) of the morphological opening and closing of the flags.
    grow_magnitude : float
        Smoothing shrinks small objects (their edge pixels mix with the
        background); flagged patches are grown back by ``smooth_sigma``
        pixels into neighbours whose change magnitude exceeds this and that
        were not built before.
    water_max_brightness : float or None
        Water is darker than this band-mean (image units); white roofs can
        have a water-like NDWI but are far brighter. :func:`detect_change`
        sets it to the median band-mean of the before epoch's valid pixels
        when it is None (the windowed pipeline uses the whole-pair median).
    """

    smooth_sigma: float = 1.0
    min_magnitude: float = 4.0
    max_ndvi: float = 0.25
    min_ndwi: float = 0.05
    soil_slope: float = 0.30
    soil_slope_rgb: float = 0.18
    tile_redness: float = 0.30
    rgb_min_ngrdi: float = 0.06
    open_radius: int = 1
    close_radius: int = 1
    grow_magnitude: float = 2.0
    water_max_brightness: float | None = None


@dataclass
class ChangeResult:
    """What :func:`detect_change` returns.

    Attributes
    ----------
    mask : (M, N) ndarray of bool
        Flagged pixels after cleaning.
    magnitude : (M, N) ndarray of float32
        Change magnitude in robust noise units (0 where invalid).
    noise : (B,) ndarray of float
        Robust spread of the per-band difference, used as the unit.
    details : dict
        Intermediate boolean layers (``significant``, ``built_before``,
        ``built_after``) for inspection.
    """

    mask: np.ndarray
    magnitude: np.ndarray
    noise: np.ndarray
    details: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------
# co-registration


def _central_crop(shape: tuple[int, int], size: int) -> tuple[slice, slice]:
    rows, cols = shape
    r0 = max((rows - size) // 2, 0)
    c0 = max((cols - size) // 2, 0)
    return slice(r0, r0 + min(size, rows)), slice(c0, c0 + min(size, cols))


def estimate_shift(
    reference: np.ndarray,
    moving: np.ndarray,
    *,
    valid: np.ndarray | None = None,
    max_size: int = 1024,
    max_shift: float = 8.0,
    upsample_factor: int = 20,
    min_peak: float = 8.0,
) -> tuple[float, float]:
    """Estimate the sub-pixel shift that registers ``moving`` onto ``reference``.

    Phase correlation on the band-mean of a central crop: the normalised
    cross-power spectrum whitens the images, so gain and offset differences
    between epochs do not matter. The correlation peak is searched only within
    ``max_shift`` pixels (orthorectified epochs are misregistered by a few
    pixels at most; a far peak comes from real change, not misregistration),
    and refined to sub-pixel precision by an upsampled DFT around it. The shift
    is kept only if it raises the correlation between the epochs.

    Parameters
    ----------
    reference, moving : (B, M, N) or (M, N) ndarray
        The before and the after image on the same grid.
    valid : (M, N) ndarray of bool, optional
        Pixels with data in both; invalid pixels are filled with the mean.
    max_size : int
        Side of the central crop used (pixels).
    max_shift : float
        Largest shift searched, pixels.
    upsample_factor : int
        Sub-pixel precision is ``1 / upsample_factor`` pixel.
    min_peak : float
        The correlation peak must exceed this many robust spreads of the
        correlation surface; otherwise no shift is applied.

    Returns
    -------
    (dy, dx) : tuple of float
        Shift in pixels (rows, cols) to apply to ``moving`` with
        :func:`apply_shift`; ``(0.0, 0.0)`` when the images hold too little
        structure to tell.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = ndimage.gaussian_filter(rng.random((128, 128)), 2)
    >>> mov = ndimage.shift(ref, (1.5, -0.5), order=3)
    >>> dy, dx = estimate_shift(ref, mov)
    >>> round(dy, 1), round(dx, 1)
    (-1.5, 0.5)
    """
    ref = reference.mean(axis=0) if reference.ndim == 3 else reference
    mov = moving.mean(axis=0) if moving.ndim == 3 else moving
    window = _central_crop(ref.shape, max_size)
    ref = np.asarray(ref[window], dtype=np.float64)
    mov = np.asarray(mov[window], dtype=np.float64)
    if valid is not None:
        ok = valid[window]
        if ok.sum() < 64:
            return 0.0, 0.0
        ref = np.where(ok, ref, ref[ok].mean())
        mov = np.where(ok, mov, mov[ok].mean())
    if ref.std() == 0 or mov.std() == 0 or min(ref.shape) < 16:
        return 0.0, 0.0
    # Hann window against edge effects of the periodic FFT.
    hann = np.outer(np.hanning(ref.shape[0]), np.hanning(ref.shape[1]))
    f_ref = np.fft.fft2((ref - ref.mean()) * hann)
    f_mov = np.fft.fft2((mov - mov.mean()) * hann)
    cross = f_ref * np.conj(f_mov)
    cross /= np.maximum(np.abs(cross), 1e-12)
    surface = np.fft.fftshift(np.real(np.fft.ifft2(cross)))
    cy, cx = surface.shape[0] // 2, surface.shape[1] // 2
    r = int(np.ceil(max_shift))
    sub = surface[cy - r: cy + r + 1, cx - r: cx + r + 1]
    py, px = np.unravel_index(np.argmax(sub), sub.shape)
    py, px = py + cy - r, px + cx - r
    # A true misregistration gives one sharp peak; a peak that barely rises
    # above the surface's spread is change or texture, not a shift.
    spread = _robust_spread(surface.ravel())
    if surface[py, px] < min_peak * spread:
        return 0.0, 0.0

    coarse = np.array([py - cy, px - cx], dtype=np.float64)
    dy, dx = _refine_peak(cross, coarse, upsample_factor)
    # Periodic scenes (rows of houses, greenhouses) give secondary peaks: keep
    # the shift only if it makes the epochs agree better than no shift.
    margin = r + 1
    inner = (slice(margin, -margin), slice(margin, -margin))
    moved = ndimage.shift(mov, (dy, dx), order=1, mode="nearest")
    if _correlation(ref[inner], moved[inner]) <= _correlation(ref[inner], mov[inner]):
        return 0.0, 0.0
    return float(dy), float(dx)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 0 else 0.0


def _refine_peak(cross: np.ndarray, coarse: np.ndarray, factor: int) -> tuple[float, float]:
    """Refine an integer correlation peak by a local upsampled DFT.

    The matrix-multiply DFT of Guizar-Sicairos et al. (2008), evaluated only on
    a 1.5-pixel neighbourhood of ``coarse`` at ``1 / factor`` pixel spacing.
    """
    region = int(np.ceil(factor * 1.5))
    centre = np.fix(region / 2.0)
    offsets = centre - coarse * factor
    data = cross.conj()
    for n_items, offset in list(zip(data.shape, offsets))[::-1]:
        kernel = (np.arange(region) - offset)[:, None] * np.fft.fftfreq(n_items, factor)
        data = np.tensordot(np.exp(-2j * np.pi * kernel), data, axes=(1, -1))
    peak = np.unravel_index(np.argmax(np.abs(data.conj())), data.shape)
    fine = coarse + (np.array(peak, dtype=np.float64) - centre) / factor
    return float(fine[0]), float(fine[1])


def _source_index(n: int, offset: float, order: int):
    """Source rows (or columns) and weights for reading ``out[i] = src[i + offset]``."""
    i = np.arange(n)
    if order == 0:
        return np.clip(i + int(np.floor(offset + 0.5)), 0, n - 1), None, None
    base = int(np.floor(offset))
    frac = np.float32(offset - base)
    return np.clip(i + base, 0, n - 1), np.clip(i + base + 1, 0, n - 1), frac


def _shift_axis(data: np.ndarray, offset: float, axis: int) -> np.ndarray:
    """Linear interpolation ``out[i] = data[i + offset]`` along one axis, edges replicated."""
    base = int(np.floor(offset))
    frac = np.float32(offset - base)
    n = data.shape[axis]

    def along(sl):
        index = [slice(None)] * data.ndim
        index[axis] = sl
        return tuple(index)

    out = np.empty(data.shape, np.float32)
    lo, hi = max(0, -base), min(n, n - base - 1)
    if lo < hi:  # interior: both neighbours inside, plain slices
        np.multiply(data[along(slice(lo + base, hi + base))], np.float32(1) - frac,
                    out=out[along(slice(lo, hi))])
        if frac:
            out[along(slice(lo, hi))] += data[along(slice(lo + base + 1, hi + base + 1))] * frac
    else:
        lo = hi = 0
    edges = np.r_[0:lo, hi:n]
    if edges.size:
        i0 = np.clip(edges + base, 0, n - 1)
        i1 = np.clip(edges + base + 1, 0, n - 1)
        out[along(edges)] = (np.take(data, i0, axis=axis) * (np.float32(1) - frac)
                             + np.take(data, i1, axis=axis) * frac)
    return out


def _shift_band(band: np.ndarray, oy: float, ox: float, border=None) -> np.ndarray:
    """``out[r, c] = band[r + oy, c + ox]``, bilinear, edges replicated.

    The fractional part is a 2 × 2 correlation (OpenCV ``filter2D``, exact
    float weights, the same arithmetic for every pixel); the whole-pixel part
    is a slice. ``border=None`` replicates the edges; a number fills with it.
    """
    import cv2

    mode = cv2.BORDER_REPLICATE if border is None else cv2.BORDER_CONSTANT
    value = 0 if border is None else float(border)

    by, bx = int(np.floor(oy)), int(np.floor(ox))
    fy, fx = oy - by, ox - bx
    src = band.astype(np.float32, copy=False)
    if fy or fx:
        kernel = np.outer([1 - fy, fy], [1 - fx, fx]).astype(np.float32)
        if border is not None:  # filter2D has no constant border: pad by hand
            src = cv2.copyMakeBorder(src, 0, 1, 0, 1, mode, value=value)
            src = cv2.filter2D(src, -1, kernel, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)[:-1, :-1]
        else:
            src = cv2.filter2D(src, -1, kernel, anchor=(0, 0), borderType=mode)
    if by == 0 and bx == 0:
        return src
    py, px = abs(by), abs(bx)
    padded = cv2.copyMakeBorder(src, py, py, px, px, mode, value=value)
    rows, cols = band.shape
    return padded[py + by: py + by + rows, px + bx: px + bx + cols]


def apply_shift(image: np.ndarray, shift: tuple[float, float], *, order: int = 1,
                border: float | None = None) -> np.ndarray:
    """Shift an image by ``(dy, dx)`` pixels (bilinear by default).

    ``out[r, c] = image[r - dy, c - dx]``, as :func:`scipy.ndimage.shift`
    with ``mode="nearest"``. Separable and computed from each pixel's own
    neighbours only, so a window read with a halo gives exactly the values of
    the whole image.

    Parameters
    ----------
    image : (B, M, N) or (M, N) ndarray
    shift : tuple of float
        ``(dy, dx)`` as returned by :func:`estimate_shift`.
    order : {0, 1}
        0 (nearest) for masks, 1 (bilinear) for images.
    border : float, optional
        Value of pixels beyond the edges (bilinear only); by default the
        nearest edge value.

    Returns
    -------
    ndarray of float32 (bool for boolean input)
        Same shape.

    Examples
    --------
    >>> apply_shift(np.array([[0.0, 1.0, 2.0, 3.0]]), (0.0, 0.5)).tolist()
    [[0.0, 0.5, 1.5, 2.5]]
    """
    if tuple(shift) == (0.0, 0.0):
        return image.copy()
    squeeze = image.ndim == 2
    data = image[None] if squeeze else image
    if order == 0:
        rows, cols = data.shape[1:]
        r0, _, _ = _source_index(rows, -float(shift[0]), 0)
        c0, _, _ = _source_index(cols, -float(shift[1]), 0)
        out = data[:, r0][:, :, c0]
    else:
        out = np.stack([_shift_band(b, -float(shift[0]), -float(shift[1]), border) for b in data])
    return out[0] if squeeze else out


# ----------------------------------------------------------------------------
# radiometric normalisation


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
    max_samples: int = 200_000,
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


# ----------------------------------------------------------------------------
# change magnitude and surfaces


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


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a - b) / (a + b)``, 0 where the sum is 0."""
    total = a + b
    out = np.zeros_like(total)
    np.divide(a - b, total, out=out, where=total != 0)
    return out


def surface_indices(image: np.ndarray, roles: Mapping[str, int]) -> dict[str, np.ndarray]:
    """Normalised-difference indices that describe a surface.

    Parameters
    ----------
    image : (B, M, N) ndarray
    roles : mapping
        Band role to index; ``nir`` is optional.

    Returns
    -------
    dict of (M, N) float32 arrays
        ``ndvi`` and ``ndwi`` (only with nir), ``ngrdi`` (green-red),
        ``slope`` (nir-blue, or red-blue without nir), ``redness``
        (red-green), ``blueness`` (blue-red).
    """
    blue = image[roles["blue"]].astype(np.float32, copy=False)
    green = image[roles["green"]].astype(np.float32, copy=False)
    red = image[roles["red"]].astype(np.float32, copy=False)
    out = {
        "ngrdi": _ratio(green, red),
        "redness": _ratio(red, green),
        "blueness": _ratio(blue, red),
    }
    if "nir" in roles:
        nir = image[roles["nir"]].astype(np.float32, copy=False)
        out["ndvi"] = _ratio(nir, red)
        out["ndwi"] = _ratio(green, nir)
        out["slope"] = _ratio(nir, blue)
    else:
        out["slope"] = _ratio(red, blue)
    return out


def built_surface(
    image: np.ndarray, roles: Mapping[str, int], params: ChangeParams = ChangeParams()
) -> np.ndarray:
    """Pixels whose spectrum looks like a built surface.

    A built surface (concrete, asphalt, colour-steel, tile, white or dark
    roofs) is neither vegetation (NDVI high; in RGB: green above red and
    blue), nor water (NDWI high), nor bare soil or senescent grass (a steady
    rise from blue to the longest band), except that strongly red surfaces are
    tile roofs.

    Parameters
    ----------
    image : (B, M, N) ndarray
    roles : mapping
    params : ChangeParams

    Returns
    -------
    (M, N) ndarray of bool
    """
    # (a - b) / (a + b) > t  is written  a - b > t (a + b)  with a + b > 0:
    # no division, no temporaries for the ratios themselves.
    def above(a, b, t):
        total = a + b
        return (a - b > np.float32(t) * total) & (total > 0)

    blue = image[roles["blue"]]
    green = image[roles["green"]]
    red = image[roles["red"]]
    tile = above(red, green, params.tile_redness)
    if "nir" in roles:
        nir = image[roles["nir"]]
        vegetation = above(nir, red, params.max_ndvi)
        # Water reflects least in the nir; blue colour-steel also has a
        # positive NDWI but more nir than red.
        water = above(green, nir, params.min_ndwi) & (nir < red)
        if params.water_max_brightness is not None:
            water &= (blue + green + red + nir) < np.float32(4 * params.water_max_brightness)
        soil = above(nir, blue, params.soil_slope)
    else:
        vegetation = above(green, red, params.rgb_min_ngrdi) & (green > blue)
        water = np.zeros(vegetation.shape, bool)
        soil = above(red, blue, params.soil_slope_rgb)
    return ~vegetation & ~water & (~soil | tile)


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


def clean_mask(mask: np.ndarray, *, open_radius: int = 1, close_radius: int = 1) -> np.ndarray:
    """Remove speckle and thin slivers, then close small gaps.

    Binary opening then closing with square structuring elements (OpenCV;
    the closing never removes a pixel).

    Parameters
    ----------
    mask : (M, N) ndarray of bool
    open_radius, close_radius : int
        Half-widths (pixels) of the square structuring elements.

    Returns
    -------
    (M, N) ndarray of bool
    """
    import cv2

    out = mask.astype(np.uint8)
    if open_radius > 0:
        se = np.ones((2 * open_radius + 1,) * 2, np.uint8)
        out = cv2.morphologyEx(out, cv2.MORPH_OPEN, se, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    if close_radius > 0:
        se = np.ones((2 * close_radius + 1,) * 2, np.uint8)
        out = cv2.morphologyEx(out, cv2.MORPH_CLOSE, se, borderType=cv2.BORDER_CONSTANT,
                               borderValue=0) | out
    return out.astype(bool)


def _target_construction(before, after, roles, significant, params):
    built_after = built_surface(after, roles, params)
    built_before = built_surface(before, roles, params)
    return significant & built_after & ~built_before, {
        "built_after": built_after,
        "built_before": built_before,
        "growable": ~built_before,
    }


def _target_any(before, after, roles, significant, params):
    return significant, {}


def grow_mask(mask: np.ndarray, allowed: np.ndarray, radius: int) -> np.ndarray:
    """Grow ``mask`` by up to ``radius`` pixels (8-connected steps) into ``allowed``.

    Parameters
    ----------
    mask, allowed : (M, N) ndarray of bool
    radius : int

    Returns
    -------
    (M, N) ndarray of bool

    Examples
    --------
    >>> m = np.zeros((1, 7), bool); m[0, 3] = True
    >>> allowed = np.array([[1, 1, 1, 1, 1, 0, 1]], bool)
    >>> grow_mask(m, allowed, 2).astype(int).tolist()
    [[0, 1, 1, 1, 1, 0, 0]]
    """
    import cv2

    if radius <= 0:
        return mask
    out = mask.astype(np.uint8)
    allowed = (allowed | mask).astype(np.uint8)
    se = np.ones((3, 3), np.uint8)
    for _ in range(radius):
        out = cv2.dilate(out, se, borderType=cv2.BORDER_CONSTANT, borderValue=0) & allowed
    return out.astype(bool)


#: Change targets: name -> function(before, after, roles, significant, params)
#: returning ``(flags, details)``.
CHANGE_TARGETS: dict[str, Callable] = {
    "construction": _target_construction,
    "any": _target_any,
}


def detect_change(
    before: np.ndarray,
    after: np.ndarray,
    roles: Mapping[str, int],
    *,
    valid: np.ndarray | None = None,
    target: str | Callable = "construction",
    params: ChangeParams = ChangeParams(),
    noise: np.ndarray | None = None,
) -> ChangeResult:
    """Flag changed pixels between two normalised, co-registered epochs.

    Parameters
    ----------
    before, after : (B, M, N) ndarray
        Same grid, same radiometric scale (see :func:`apply_normalisation`).
    roles : mapping
        Band role to index.
    valid : (M, N) ndarray of bool, optional
        Pixels with data in both epochs (default: all).
    target : str or callable
        A key of :data:`CHANGE_TARGETS` or a callable with the same signature.
    params : ChangeParams
    noise : (B,) ndarray, optional
        Per-band noise spreads of the smoothed difference; estimated from
        these arrays when not given.

    Returns
    -------
    ChangeResult

    Raises
    ------
    ValueError
        If ``target`` is not known.
    """
    if valid is None:
        valid = np.ones(before.shape[1:], bool)
    if callable(target):
        rule = target
    elif target in CHANGE_TARGETS:
        rule = CHANGE_TARGETS[target]
    else:
        raise ValueError(
            f"target was {target!r} but is expected to be one of {list(CHANGE_TARGETS)} or callable"
        )
    if params.water_max_brightness is None and valid.any():
        params = replace(params, water_max_brightness=scene_brightness(before, valid))
    b = smooth(before, params.smooth_sigma)
    a = smooth(after, params.smooth_sigma)
    magnitude, noise = change_magnitude(b, a, valid, noise=noise)
    significant = (magnitude > params.min_magnitude) & valid
    flags, details = rule(b, a, roles, significant, params)
    mask = clean_mask(flags, open_radius=params.open_radius, close_radius=params.close_radius)
    grow_radius = int(np.ceil(params.smooth_sigma))
    allowed = (magnitude > params.grow_magnitude) & details.pop("growable", True)
    mask = grow_mask(mask, allowed & valid, grow_radius) & valid
    details["significant"] = significant
    return ChangeResult(mask=mask, magnitude=magnitude, noise=noise, details=details)


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
