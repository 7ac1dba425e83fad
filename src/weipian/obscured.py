"""The obscured area of a run: clouds, shadows and users' masks, as polygons and per township.

A patch may be hidden where the imagery is obscured, so the area is kept
beside the patches (layer ``obscured`` of ``patches.gpkg``) and summed per
township in ``run.json``.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from .schema import frame_area_crs
from .settings import LayerParams
from .vector.layers import find_layers, read_layer
from .vector.naming import choose_name_field, feature_labels
from .vector.overlay import layer_overlap

__all__ = ["obscured_polygons", "obscured_by_township"]


def obscured_polygons(tiles, parts, shape, transform, crs, cell: int) -> gpd.GeoSeries:
    """Cells (``cell`` pixels square) at least half obscured, as polygons.

    Parameters
    ----------
    tiles : sequence of Tile
        The windows of a detection, in the order of ``parts``.
    parts : sequence of dict
        Their piece tables; ``obscured_cells`` is the obscured share of each
        cell of the window's core, an (H, W) float array.
    shape : tuple of int
        (rows, cols) of the scene.
    transform : Affine
    crs : CRS
    cell : int
        Cell side in pixels.
    """
    from affine import Affine
    from rasterio import features

    grid = np.zeros((-(-shape[0] // cell), -(-shape[1] // cell)), np.float32)
    for tile, part in zip(tiles, parts):
        cells = part.get("obscured_cells")
        if cells is None:
            continue
        r0, c0 = int(tile.core.row_off) // cell, int(tile.core.col_off) // cell
        grid[r0: r0 + cells.shape[0], c0: c0 + cells.shape[1]] = cells
    covered = (grid >= 0.5).astype(np.uint8)
    geoms = [shapely.geometry.shape(g) for g, _ in features.shapes(
        covered, mask=covered > 0, transform=transform @ Affine.scale(cell))]
    return gpd.GeoSeries(geoms, crs=crs)


def obscured_by_township(obscured, layers, overrides, layer_crs=None,
                         layer_params: LayerParams | None = None) -> dict:
    """Obscured area (m²) per township, the townships named as in the patch table.

    Returns ``{"(all)": area}`` where there is no township layer and ``{}``
    where nothing is obscured.
    """
    if obscured is None or not len(obscured):
        return {}
    paths = find_layers(layers, overrides)
    acrs = frame_area_crs(obscured)
    if "townships" not in paths:
        return {"(all)": round(float(obscured.to_crs(acrs).area.sum()), 1)}
    towns, _ = read_layer(paths["townships"], acrs, name="townships", layer_crs=layer_crs)
    chosen = (layer_params or LayerParams()).name_fields.get("townships")
    field, _ = choose_name_field(towns, "townships", chosen, path=str(paths["townships"]))
    names = feature_labels(towns, field)
    ov = layer_overlap(towns.geometry.to_numpy(), obscured.to_crs(acrs).to_numpy())
    return {str(n): round(float(a), 1) for n, a in zip(names, ov.area) if a > 0}
