"""Users' masks of pixels to leave out (raster or polygons), read on the before grid."""

from __future__ import annotations

import os

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError

from ..errors import (
    CRSMissingError,
    InputFileError,
)

__all__ = ["UserMask"]


class UserMask:
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

        from ..vector.layers import read_layer

        frame, _ = read_layer(self.path, reader.crs, name="mask")
        self._geoms = frame.geometry.to_numpy()
        self._tree = shapely.STRtree(self._geoms)

    def read(self, window) -> np.ndarray:
        """Masked pixels of ``window`` (None: the whole grid), an (M, N) bool array."""
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

    def read_averaged(self, out_shape: tuple[int, int], transform) -> np.ndarray:
        """Masked cells of a coarser grid over the whole image (any masked pixel masks its cell).

        Parameters
        ----------
        out_shape : (int, int)
            Rows and columns of the coarse grid.
        transform : affine.Affine
            Its transform (from :meth:`weipian.io.PairReader.read_averaged`).
        """
        from rasterio import features

        if self._vrt is not None:
            return self._vrt.read(1, out_shape=out_shape, resampling=Resampling.max) != 0
        if len(self._geoms) == 0:
            return np.zeros(out_shape, bool)
        return features.geometry_mask(self._geoms, out_shape=out_shape, invert=True, transform=transform,
                                      all_touched=True)

    def close(self):
        """Close the mask's files."""
        if self._vrt is not None:
            self._vrt.close()
        if self._src is not None:
            self._src.close()
