"""Two epochs on one grid: the after epoch aligned onto the before grid, read window by window."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import transform_bounds

from ..errors import (
    NoOverlapError,
)
from .dates import acquisition_date
from .masks import UserMask
from .rasters import read_epoch, read_raster_window, valid_of

__all__ = ["Epoch", "PairSpec", "PairReader", "read_pair"]


@dataclass
class Epoch:
    """One epoch on the analysis grid.

    Attributes
    ----------
    data : (B, M, N) ndarray of float32
    valid : (M, N) ndarray of bool
    roles : dict
        Band role to index into ``data``.
    transform : affine.Affine
    crs : rasterio.crs.CRS
    date : datetime.date or None
    path : str
    """

    data: np.ndarray
    valid: np.ndarray
    roles: dict
    transform: object
    crs: CRS
    date: dt.date | None
    path: str


@dataclass(frozen=True)
class PairSpec:
    """What identifies a pair of epochs; small and picklable, for workers.

    Attributes
    ----------
    before, after : str
    bands, after_bands : str or None
        Band roles (see :func:`weipian.bands.resolve_band_roles`).
    mask_before, mask_after : str or None
        User masks of pixels to leave out (clouds, haze, known works): a
        raster (non-zero = masked) or a polygon layer.
    crs : str or None
        CRS assumed for epochs whose files have none.
    min_overlap : float
        Smallest share of the before image the after image must cover.
    """

    before: str
    after: str
    bands: str | None = None
    after_bands: str | None = None
    mask_before: str | None = None
    mask_after: str | None = None
    crs: str | None = None
    min_overlap: float = 0.5


class PairReader:
    """Both epochs on the before grid, read window by window.

    The after image is read through a :class:`rasterio.vrt.WarpedVRT`
    (bilinear) when its CRS, grid or resolution differ from the before's, as
    ``gdalwarp`` would. Use as a context manager.

    Parameters
    ----------
    spec : PairSpec

    Attributes
    ----------
    shape : (int, int)
    transform : affine.Affine
    crs : rasterio.crs.CRS
    roles : dict
        Role to index in the arrays :meth:`read` returns (blue, green, red,
        nir order, only roles both epochs have).
    dates : dict
        ``before`` / ``after`` acquisition dates from the tags (or None).

    Raises
    ------
    InputFileError, RasterError, CRSMissingError, BandError, NoOverlapError
    """

    def __init__(self, spec: PairSpec):
        from rasterio.vrt import WarpedVRT

        self.spec = spec
        self._src_b, roles_b = read_epoch(spec.before, bands=spec.bands, crs=spec.crs)
        try:
            self._src_a, roles_a = read_epoch(spec.after, bands=spec.after_bands or spec.bands,
                                              crs=spec.crs)
        except Exception:
            self._src_b.close()
            raise
        b, a = self._src_b, self._src_a
        common = [r for r in ("blue", "green", "red", "nir") if r in roles_b and r in roles_a]
        self.roles = {r: i for i, r in enumerate(common)}
        self._idx_b = [roles_b[r] + 1 for r in common]
        self._idx_a = [roles_a[r] + 1 for r in common]
        self.shape = b.shape
        self.transform = b.transform
        self.crs = b.crs
        self.dates = {"before": acquisition_date(b.tags()), "after": acquisition_date(a.tags())}
        bounds_a = transform_bounds(a.crs, b.crs, *a.bounds, densify_pts=21)
        bb = b.bounds
        if (bounds_a[0] >= bb.right or bounds_a[2] <= bb.left
                or bounds_a[1] >= bb.top or bounds_a[3] <= bb.bottom):
            self.close()
            raise NoOverlapError(
                f"{spec.after}: does not overlap {spec.before}; the epochs must cover the same area"
            )
        inter = ((min(bounds_a[2], bb.right) - max(bounds_a[0], bb.left))
                 * (min(bounds_a[3], bb.top) - max(bounds_a[1], bb.bottom)))
        share = inter / ((bb.right - bb.left) * (bb.top - bb.bottom))
        if share < spec.min_overlap:
            self.close()
            raise NoOverlapError(
                f"{spec.after}: covers only {share:.0%} of {spec.before} (less than --min-overlap "
                f"{spec.min_overlap:.0%}); check the pair or lower --min-overlap"
            )
        same_grid = a.crs == b.crs and a.transform.almost_equals(b.transform) and a.shape == b.shape
        self._float_b = np.issubdtype(np.dtype(b.dtypes[0]), np.floating)
        self._float_a = np.issubdtype(np.dtype(a.dtypes[0]), np.floating) or not same_grid
        self._nodata_a = a.nodata
        self._vrt = None
        if not same_grid:
            self._vrt = WarpedVRT(a, crs=b.crs, transform=b.transform, width=b.width,
                                  height=b.height, resampling=Resampling.bilinear,
                                  src_nodata=a.nodata, nodata=np.nan, dtype="float32")
            self._nodata_a = np.nan
        try:
            self._masks = [UserMask(m, self) if m else None
                           for m in (spec.mask_before, spec.mask_after)]
        except Exception:
            self.close()
            raise

    def user_masks(self, window=None):
        """The users' masks (before, after) on a window, or None where not given."""
        return tuple(m.read(window) if m is not None else None for m in self._masks)

    def read(self, window=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Read a window of both epochs.

        Parameters
        ----------
        window : rasterio.windows.Window, optional
            Default: the whole image.

        Returns
        -------
        before, after : (B, M, N) ndarray of float32
        valid : (M, N) ndarray of bool
            Pixels with data in both epochs.
        """
        before = read_raster_window(self._src_b, self._idx_b, window, self.spec.before)
        source = self._vrt if self._vrt is not None else self._src_a
        after = read_raster_window(source, self._idx_a, window, self.spec.after)
        valid = (valid_of(before, self._src_b.nodata, floating=self._float_b)
                 & valid_of(after, self._nodata_a, floating=self._float_a))
        before[:, ~valid] = 0
        after[:, ~valid] = 0
        return before, after, valid

    def read_overview(self, roles, out_shape) -> np.ndarray:
        """A decimated read of the after epoch on the before grid.

        Parameters
        ----------
        roles : sequence of str
            Band roles to read, e.g. ``("red", "green", "blue")``.
        out_shape : (int, int)
            Rows and columns of the overview.

        Returns
        -------
        (len(roles), rows, cols) ndarray of float32
        """
        source = self._vrt if self._vrt is not None else self._src_a
        indexes = [self._idx_a[self.roles[r]] for r in roles]
        return source.read(indexes, out_shape=(len(indexes), *out_shape), out_dtype="float32")

    def user_masks_averaged(self, out_shape, transform):
        """The users' masks (before, after) on the grid of :meth:`read_averaged`, or None where not given."""
        return tuple(m.read_averaged(out_shape, transform) if m is not None else None for m in self._masks)

    def read_averaged(self, factor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, object]:
        """Both epochs averaged over ``factor`` × ``factor`` pixel blocks, in one decimated read each.

        GDAL averages the valid pixels of each block (``Resampling.average``),
        as ``gdal_translate -r average`` would; a block without any valid
        pixel in either epoch is invalid.

        Returns
        -------
        before, after : (B, m, n) ndarray of float32
            ``m = ceil(M / factor)``, ``n = ceil(N / factor)``.
        valid : (m, n) ndarray of bool
        transform : affine.Affine
            Of the averaged grid.
        """
        from affine import Affine

        rows, cols = -(-self.shape[0] // factor), -(-self.shape[1] // factor)
        source = self._vrt if self._vrt is not None else self._src_a
        out = []
        for src, idx in ((self._src_b, self._idx_b), (source, self._idx_a)):
            data = src.read(idx, out_shape=(len(idx), rows, cols), resampling=Resampling.average,
                            out_dtype="float32", masked=True)
            out.append(data)
        valid = ~(np.ma.getmaskarray(out[0]).any(0) | np.ma.getmaskarray(out[1]).any(0))
        before, after = (np.ma.filled(d, 0).astype(np.float32) for d in out)
        before[:, ~valid] = 0
        after[:, ~valid] = 0
        transform = self.transform @ Affine.scale(self.shape[1] / cols, self.shape[0] / rows)
        return before, after, valid, transform

    def close(self) -> None:
        """Close the datasets."""
        for m in getattr(self, "_masks", None) or []:
            if m is not None:
                m.close()
        if getattr(self, "_vrt", None) is not None:
            self._vrt.close()
        self._src_a.close()
        self._src_b.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_pair(before_path, after_path, *, bands=None, after_bands=None) -> tuple[Epoch, Epoch]:
    """Read two whole epochs onto the before grid (see :class:`PairReader`).

    Returns
    -------
    before, after : Epoch
        Each with only the bands whose role both epochs have, in the order
        blue, green, red, nir; ``valid`` is the pixels with data in both.

    Raises
    ------
    InputFileError, RasterError, CRSMissingError, BandError, NoOverlapError
    """
    with PairReader(PairSpec(str(before_path), str(after_path), bands, after_bands)) as reader:
        b, a, valid = reader.read()
        if not valid.any():
            raise NoOverlapError(
                f"{after_path}: has no valid pixel where {before_path} has data; "
                "check nodata values and that the epochs cover the same area"
            )
        before = Epoch(b, valid, reader.roles, reader.transform, reader.crs,
                       reader.dates["before"], str(before_path))
        after = Epoch(a, valid, reader.roles, reader.transform, reader.crs,
                      reader.dates["after"], str(after_path))
    return before, after
