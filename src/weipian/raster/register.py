"""Co-registration: sub-pixel shift of the after epoch by bounded phase correlation.

Images are float arrays ``(bands, rows, cols)``; ``valid`` is a boolean
``(rows, cols)`` array. :func:`estimate_shift` finds the shift, validated by
the inter-epoch correlation it must raise; :func:`apply_shift` applies it by
exact bilinear weights, marking pixels shifted in from beyond the edge.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .radiometry import _robust_spread

__all__ = ["estimate_shift", "apply_shift"]


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
    crops = _prepared_crops(reference, moving, valid, max_size)
    if crops is None:
        return 0.0, 0.0
    ref, mov = crops
    r = int(np.ceil(max_shift))
    cross, peak = _phase_correlation_peak(ref, mov, r, min_peak)
    if peak is None:
        return 0.0, 0.0
    dy, dx = _refine_peak(cross, np.asarray(peak, dtype=np.float64), upsample_factor)
    # the sub-pixel refinement may drift past the search bound on a peak at its edge: keep the bound
    dy, dx = (float(np.clip(v, -max_shift, max_shift)) for v in (dy, dx))
    # Periodic scenes (rows of houses, greenhouses) give secondary peaks: keep
    # the shift only if it makes the epochs agree better than no shift.
    margin = r + 1
    inner = (slice(margin, -margin), slice(margin, -margin))
    moved = ndimage.shift(mov, (dy, dx), order=1, mode="nearest")
    if _correlation(ref[inner], moved[inner]) <= _correlation(ref[inner], mov[inner]):
        return 0.0, 0.0
    return float(dy), float(dx)


def _prepared_crops(reference, moving, valid, max_size: int):
    """Band-means of the central crop of both epochs, invalid pixels filled; None if too little to tell."""
    ref = reference.mean(axis=0) if reference.ndim == 3 else reference
    mov = moving.mean(axis=0) if moving.ndim == 3 else moving
    window = _central_crop(ref.shape, max_size)
    ref = np.asarray(ref[window], dtype=np.float64)
    mov = np.asarray(mov[window], dtype=np.float64)
    if valid is not None:
        ok = valid[window]
        if ok.sum() < 64:
            return None
        ref = np.where(ok, ref, ref[ok].mean())
        mov = np.where(ok, mov, mov[ok].mean())
    if ref.std() == 0 or mov.std() == 0 or min(ref.shape) < 16:
        return None
    return ref, mov


def _phase_correlation_peak(ref: np.ndarray, mov: np.ndarray, r: int, min_peak: float):
    """Normalised cross-power spectrum and its peak (dy, dx) within ``r`` pixels, or None if weak."""
    from scipy import fft  # about twice numpy.fft's speed on real input

    # Hann window against edge effects of the periodic FFT.
    hann = np.outer(np.hanning(ref.shape[0]), np.hanning(ref.shape[1]))
    f_ref = fft.fft2((ref - ref.mean()) * hann)
    f_mov = fft.fft2((mov - mov.mean()) * hann)
    cross = f_ref * np.conj(f_mov)
    cross /= np.maximum(np.abs(cross), 1e-12)
    surface = fft.fftshift(np.real(fft.ifft2(cross)))
    cy, cx = surface.shape[0] // 2, surface.shape[1] // 2
    sub = surface[cy - r: cy + r + 1, cx - r: cx + r + 1]
    py, px = np.unravel_index(np.argmax(sub), sub.shape)
    py, px = py + cy - r, px + cx - r
    # A true misregistration gives one sharp peak; a peak that barely rises
    # above the surface's spread is change or texture, not a shift.
    if surface[py, px] < min_peak * _robust_spread(surface.ravel()):
        return cross, None
    return cross, (py - cy, px - cx)


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
