"""Thin file wrappers: open epochs, align them, read dates, write atomically.

Everything that touches GDAL for rasters lives here, so that GDAL's own
errors are turned into :mod:`weipian.errors` with the file name and the fix.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.warp import transform_bounds

from .bands import resolve_band_roles
from .errors import (
    CRSMissingError,
    DateError,
    InputFileError,
    NoOverlapError,
    OutputError,
    OutputExistsError,
    RasterError,
    WeipianError,
)

__all__ = [
    "Epoch",
    "PairSpec",
    "PairReader",
    "read_epoch",
    "read_pair",
    "parse_date",
    "acquisition_date",
    "atomic_path",
    "check_output",
]


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


_DATE_PATTERNS = [
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})"), None),
    (re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})"), None),
    (re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})"), None),
    (re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?"), None),
    (re.compile(r"^(\d{4}):(\d{2}):(\d{2})"), None),  # TIFFTAG_DATETIME
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), None),
]


def parse_date(value, *, source: str = "date") -> dt.date:
    """Parse a date as analysts type it.

    Accepts ISO ``2024-06-01``, ``2024/6/1``, ``2024.6.1``, ``2024年6月1日``,
    TIFF ``2024:06:01 10:00:00``, ``20240601``, Excel serial numbers
    (e.g. ``45444``), and :class:`datetime.date` / ``datetime`` objects.

    Parameters
    ----------
    value : str, int, float, date or datetime
    source : str
        What is being parsed, for the error message.

    Returns
    -------
    datetime.date

    Raises
    ------
    DateError
        If the value is not a date.

    Examples
    --------
    >>> parse_date("2024年6月1日")
    datetime.date(2024, 6, 1)
    >>> parse_date(45444)
    datetime.date(2024, 6, 1)
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        if np.isfinite(value) and 20000 < float(value) < 80000:
            return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
        raise DateError(f"{source}: {value!r} is not a date; write it as YYYY-MM-DD")
    text = str(value).strip()
    if re.fullmatch(r"\d{5}(\.0+)?", text):
        return parse_date(float(text), source=source)
    for pattern, _ in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            try:
                return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                break
    raise DateError(f"{source}: {text!r} is not a date; write it as YYYY-MM-DD (e.g. 2024-06-01)")


def acquisition_date(tags: dict) -> dt.date | None:
    """The acquisition date from GeoTIFF tags, if any.

    Looks at ``ACQUISITION_DATE`` and then ``TIFFTAG_DATETIME``.
    """
    for key in ("ACQUISITION_DATE", "acquisition_date", "TIFFTAG_DATETIME"):
        if tags.get(key):
            try:
                return parse_date(tags[key], source=key)
            except DateError:
                continue
    return None


def _open(path) -> rasterio.DatasetReader:
    path = str(path)
    if not os.path.exists(path):
        raise InputFileError(f"{path}: file not found; check the path")
    try:
        return rasterio.open(path)
    except RasterioIOError as exc:
        raise RasterError(
            f"{path}: not a readable raster ({str(exc).splitlines()[0][:120]}); "
            "give a GeoTIFF or another GDAL raster"
        ) from None


def _read_window(src, indexes, window, path) -> np.ndarray:
    try:
        return src.read(indexes, window=window, out_dtype="float32")
    except RasterioIOError as exc:
        raise RasterError(
            f"{path}: the raster data cannot be read, the file may be truncated "
            f"({str(exc).splitlines()[0][:120]}); copy it again"
        ) from None


def _valid_of(data: np.ndarray, nodata, *, floating: bool = True) -> np.ndarray:
    """Pixels with data: not nodata in every band, and finite (float sources)."""
    valid = np.all(np.isfinite(data), axis=0) if floating else np.ones(data.shape[1:], bool)
    if nodata is not None and not np.isnan(nodata):
        valid &= ~np.all(data == np.float32(nodata), axis=0)
    return valid


def read_epoch(path, *, bands=None, crs=None) -> tuple[rasterio.DatasetReader, dict]:
    """Open a raster and resolve its band roles (nothing read yet).

    Parameters
    ----------
    path : str or Path
    bands : str, optional
    crs : CRS-like, optional
        CRS to assume when the file has none (``--crs``).

    Returns
    -------
    src : rasterio dataset (caller closes it)
    roles : dict
    """
    src = _open(path)
    if src.crs is None and crs is None:
        src.close()
        raise CRSMissingError(
            f"{path}: the raster has no CRS; pass --crs EPSG:4547 (the zone it is in) "
            "or assign one with `gdal_edit.py -a_srs`"
        )
    if src.crs is None:
        from rasterio.errors import CRSError
        from rasterio.vrt import WarpedVRT

        try:
            src = WarpedVRT(src, src_crs=CRS.from_user_input(crs), crs=CRS.from_user_input(crs),
                            transform=src.transform, width=src.width, height=src.height)
        except CRSError:
            raise CRSMissingError(f"--crs {crs!r} is not a CRS; give e.g. EPSG:4547") from None
    try:
        roles = resolve_band_roles(src.count, bands=bands, descriptions=src.descriptions,
                                   source=str(path))
    except Exception:
        src.close()
        raise
    return src, roles


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
            self._masks = [_UserMask(m, self) if m else None
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
        before = _read_window(self._src_b, self._idx_b, window, self.spec.before)
        source = self._vrt if self._vrt is not None else self._src_a
        after = _read_window(source, self._idx_a, window, self.spec.after)
        valid = (_valid_of(before, self._src_b.nodata, floating=self._float_b)
                 & _valid_of(after, self._nodata_a, floating=self._float_a))
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


class _UserMask:
    """A user mask, raster or vector, read on the before grid window by window."""

    def __init__(self, path, reader):
        from rasterio.vrt import WarpedVRT

        self.path = str(path)
        if not os.path.exists(self.path):
            raise InputFileError(f"{self.path}: mask not found; check --mask-before/--mask-after")
        self._src = self._vrt = self._tree = None
        self._reader = reader
        try:
            src = rasterio.open(self.path)
        except RasterioIOError:
            src = None
        if src is not None:
            if src.crs is None:
                src.close()
                raise CRSMissingError(f"{self.path}: the mask raster has no CRS; "
                                      "assign one with gdal_edit.py -a_srs")
            self._src = src
            self._vrt = WarpedVRT(src, crs=reader.crs, transform=reader.transform,
                                  width=reader.shape[1], height=reader.shape[0],
                                  resampling=Resampling.nearest, nodata=0)
            return
        import shapely

        from .vector.layers import read_layer

        frame, _ = read_layer(self.path, reader.crs, name="mask")
        self._geoms = frame.geometry.to_numpy()
        self._tree = shapely.STRtree(self._geoms)

    def read(self, window) -> np.ndarray:
        from rasterio import features
        from rasterio.windows import Window, bounds
        from rasterio.windows import transform as window_transform

        window = window or Window(0, 0, self._reader.shape[1], self._reader.shape[0])
        shape = (int(window.height), int(window.width))
        if self._vrt is not None:
            return self._vrt.read(1, window=window) != 0
        box = __import__("shapely").box(*bounds(window, self._reader.transform))
        hits = self._geoms[self._tree.query(box, predicate="intersects")]
        if hits.size == 0:
            return np.zeros(shape, bool)
        return features.geometry_mask(hits, out_shape=shape, invert=True,
                                      transform=window_transform(window, self._reader.transform))

    def close(self):
        if self._vrt is not None:
            self._vrt.close()
        if self._src is not None:
            self._src.close()


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


def check_output(path, *, overwrite: bool) -> Path:
    """Refuse to clobber an existing output unless ``overwrite``; check the folder is writable."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path}: already exists; pass --overwrite to replace it")
    parent = path.parent if str(path.parent) else Path(".")
    for folder in [parent, *parent.parents]:
        if folder.exists():
            if not folder.is_dir() or not os.access(folder, os.W_OK):
                raise OutputError(f"{folder}: the output folder is not writable; choose another with -o")
            break
    return path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it into place on success.

    A crash leaves the previous file (or none), never a half-written one.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path.parent}: the output folder cannot be made ({exc.strerror}); "
                          "choose another -o") from None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise OutputError(f"{path}: the disk is full; free space or write elsewhere with -o") from None
        if isinstance(exc, WeipianError):
            raise
        raise OutputError(f"{path}: cannot be written ({exc.strerror or exc}); choose another -o") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
