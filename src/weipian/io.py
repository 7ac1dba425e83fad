"""Thin file wrappers: open epochs, align them, read dates, write atomically.

Everything that touches GDAL for rasters lives here, so that GDAL's own
errors are turned into :mod:`weipian.errors` with the file name and the fix.
"""

from __future__ import annotations

import contextlib
import datetime as dt
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
from rasterio.warp import reproject, transform_bounds

from .bands import resolve_band_roles
from .errors import (
    CRSMissingError,
    DateError,
    InputFileError,
    NoOverlapError,
    OutputExistsError,
    RasterError,
)

__all__ = [
    "Epoch",
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


def _read_all(src, path) -> np.ndarray:
    try:
        return src.read(masked=False)
    except RasterioIOError as exc:
        raise RasterError(
            f"{path}: the raster data cannot be read, the file may be truncated "
            f"({str(exc).splitlines()[0][:120]}); copy it again"
        ) from None


def _valid_mask(src, data) -> np.ndarray:
    valid = np.ones(data.shape[1:], bool)
    if src.nodata is not None:
        nod = src.nodata
        if np.isnan(nod):
            valid &= ~np.all(np.isnan(data), axis=0)
        else:
            valid &= ~np.all(data == nod, axis=0)
    if np.issubdtype(data.dtype, np.floating):
        valid &= np.all(np.isfinite(data), axis=0)
    return valid


def read_epoch(path, *, bands=None) -> tuple[rasterio.DatasetReader, dict]:
    """Open a raster and resolve its band roles (nothing read yet).

    Returns
    -------
    src : rasterio dataset (caller closes it)
    roles : dict
    """
    src = _open(path)
    if src.crs is None:
        src.close()
        raise CRSMissingError(
            f"{path}: the raster has no CRS; assign one with "
            "`gdal_edit.py -a_srs EPSG:4547` (or the zone it is in)"
        )
    roles = resolve_band_roles(src.count, bands=bands, descriptions=src.descriptions, source=str(path))
    return src, roles


def read_pair(before_path, after_path, *, bands=None, after_bands=None) -> tuple[Epoch, Epoch]:
    """Read two epochs onto the before grid.

    When the epochs differ in grid, resolution or CRS, the after image is
    reprojected (bilinear) onto the before grid, as ``gdalwarp`` would.

    Parameters
    ----------
    before_path, after_path : str or Path
    bands : str, optional
        Band roles of both epochs (``"blue,green,red,nir"``).
    after_bands : str, optional
        Band roles of the after epoch, when they differ from the before.

    Returns
    -------
    before, after : Epoch
        Each with only the bands whose role both epochs have, in the order
        blue, green, red, nir.

    Raises
    ------
    InputFileError, RasterError, CRSMissingError, BandError, NoOverlapError
    """
    src_b, roles_b = read_epoch(before_path, bands=bands)
    try:
        src_a, roles_a = read_epoch(after_path, bands=after_bands or bands)
    except Exception:
        src_b.close()
        raise
    with src_b, src_a:
        common = [r for r in ("blue", "green", "red", "nir") if r in roles_b and r in roles_a]
        roles = {r: i for i, r in enumerate(common)}
        bounds_a = transform_bounds(src_a.crs, src_b.crs, *src_a.bounds, densify_pts=21)
        bb = src_b.bounds
        if (bounds_a[0] >= bb.right or bounds_a[2] <= bb.left
                or bounds_a[1] >= bb.top or bounds_a[3] <= bb.bottom):
            raise NoOverlapError(
                f"{after_path}: does not overlap {before_path}; the epochs must cover the same area"
            )
        raw_b = _read_all(src_b, before_path)
        valid_b = _valid_mask(src_b, raw_b)
        data_b = raw_b[[roles_b[r] for r in common]].astype(np.float32)
        raw_a = _read_all(src_a, after_path)
        valid_a_src = _valid_mask(src_a, raw_a)
        data_a_src = raw_a[[roles_a[r] for r in common]].astype(np.float32)
        same_grid = (
            src_a.crs == src_b.crs
            and src_a.transform.almost_equals(src_b.transform)
            and src_a.shape == src_b.shape
        )
        if same_grid:
            data_a, valid_a = data_a_src, valid_a_src
        else:
            data_a = np.zeros_like(data_b)
            reproject(
                np.where(valid_a_src, data_a_src, np.nan), data_a,
                src_transform=src_a.transform, src_crs=src_a.crs,
                dst_transform=src_b.transform, dst_crs=src_b.crs,
                src_nodata=np.nan, dst_nodata=np.nan, resampling=Resampling.bilinear,
            )
            valid_a = np.all(np.isfinite(data_a), axis=0)
            data_a = np.nan_to_num(data_a, nan=0.0)
        if not (valid_b & valid_a).any():
            raise NoOverlapError(
                f"{after_path}: has no valid pixel where {before_path} has data; "
                "check nodata values and that the epochs cover the same area"
            )
        before = Epoch(data_b, valid_b, roles, src_b.transform, src_b.crs,
                       acquisition_date(src_b.tags()), str(before_path))
        after = Epoch(data_a, valid_a, roles, src_b.transform, src_b.crs,
                      acquisition_date(src_a.tags()), str(after_path))
    return before, after


def check_output(path, *, overwrite: bool) -> Path:
    """Refuse to clobber an existing output unless ``overwrite``; check the folder is writable."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path}: already exists; pass --overwrite to replace it")
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not os.access(parent, os.W_OK):
        raise InputFileError(f"{parent}: the output folder is not writable; choose another with -o")
    return path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it into place on success.

    A crash leaves the previous file (or none), never a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
