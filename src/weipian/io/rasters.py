"""One epoch file opened and read through GDAL, its errors turned into weipian errors."""

from __future__ import annotations

import os

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.errors import RasterioIOError

from ..bands import resolve_band_roles
from ..errors import (
    CRSMissingError,
    InputFileError,
    RasterError,
)

__all__ = ["open_raster", "read_raster_window", "valid_of", "read_epoch"]


def open_raster(path) -> rasterio.DatasetReader:
    """Open a raster; a missing or unreadable file raises a weipian error naming it."""
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


def read_raster_window(src, indexes, window, path) -> np.ndarray:
    """Read bands ``indexes`` of ``window`` as float32; a truncated file raises a weipian error."""
    try:
        return src.read(indexes, window=window, out_dtype="float32")
    except RasterioIOError as exc:
        raise RasterError(
            f"{path}: the raster data cannot be read, the file may be truncated "
            f"({str(exc).splitlines()[0][:120]}); copy it again"
        ) from None


def valid_of(data: np.ndarray, nodata, *, floating: bool = True) -> np.ndarray:
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
    src = open_raster(path)
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
