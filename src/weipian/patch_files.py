"""The patch GeoPackage weipian writes and reads: layer ``patches`` (and ``obscured``)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from .errors import InputFileError
from .io import atomic_path, check_output

__all__ = ["read_patches", "write_patches"]


def read_patches(path) -> gpd.GeoDataFrame:
    """Read a patch GeoPackage written by weipian (layer ``patches``).

    Raises
    ------
    InputFileError
        If the file is missing or has no readable ``patches`` layer.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: file not found; run `weipian detect` first")
    import pyogrio

    try:
        frame = gpd.read_file(path, layer="patches", engine="pyogrio")
    except Exception as exc:
        raise InputFileError(
            f"{path}: no readable 'patches' layer ({str(exc).splitlines()[0][:100]}); "
            "give a GeoPackage written by weipian detect"
        ) from None
    meta = pyogrio.read_info(path, layer="patches")
    for key in ("patch_id", "township_code", "before_date", "after_date"):
        if key in frame:
            frame[key] = frame[key].fillna("").astype(str)
    frame.attrs["weipian"] = {"inputs": {"patches": str(path)}, "features": meta.get("features")}
    return frame


def write_patches(frame: gpd.GeoDataFrame, path, *, overwrite: bool = False, obscured=None) -> Path:
    """Write patches to a GeoPackage (layer ``patches``) atomically.

    ``obscured`` (polygons of cloud, shadow and masked areas) goes to a second
    layer, ``obscured``.
    """
    path = check_output(path, overwrite=overwrite)
    with atomic_path(path) as tmp:
        out = frame.copy()
        out.attrs = {}
        out.to_file(tmp, layer="patches", driver="GPKG", engine="pyogrio")
        if obscured is not None and len(obscured):
            gpd.GeoDataFrame({"kind": ["obscured"] * len(obscured)}, geometry=obscured.values,
                             crs=obscured.crs).to_file(tmp, layer="obscured", driver="GPKG",
                                                       engine="pyogrio")
    return path
