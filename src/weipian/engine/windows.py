"""Pure tiling helpers: which window to compute, which to read.

A :class:`Tile` pairs the *core* window whose results a task owns with the
*read* window around it: the core grown by a halo wide enough for every
neighbourhood operation of the change core, clipped to the image. The cores
tile the image exactly, without overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

from rasterio.windows import Window

__all__ = ["Tile", "tile_windows", "HALO"]

#: Halo in pixels: the change network's context around its tiles
#: (:data:`weipian.learn.tiling.MARGIN`, 32 px) plus the co-registration
#: shift (up to 8 px, plus 1 for bilinear interpolation), with margin.
HALO = 48


@dataclass(frozen=True)
class Tile:
    """One unit of work.

    Attributes
    ----------
    core : rasterio.windows.Window
        Pixels this tile owns, in image coordinates.
    read : rasterio.windows.Window
        Pixels to read: ``core`` plus the halo, clipped to the image.
    """

    core: Window
    read: Window

    @property
    def key(self) -> str:
        """A file-name-safe name, e.g. ``r000000_c001024``."""
        return f"r{int(self.core.row_off):06d}_c{int(self.core.col_off):06d}"

    @property
    def inner(self) -> tuple[slice, slice]:
        """Slices of the core inside an array read with ``read``."""
        r0 = int(self.core.row_off - self.read.row_off)
        c0 = int(self.core.col_off - self.read.col_off)
        return slice(r0, r0 + int(self.core.height)), slice(c0, c0 + int(self.core.width))


def tile_windows(height: int, width: int, size: int | None, *, halo: int = HALO) -> list[Tile]:
    """Tile an image of ``height`` × ``width`` pixels.

    Parameters
    ----------
    height, width : int
    size : int or None
        Side of the core windows; ``None`` or a size at least the image gives
        a single tile.
    halo : int

    Returns
    -------
    list of Tile
        In raster order.

    Examples
    --------
    >>> tiles = tile_windows(1000, 600, 512, halo=16)
    >>> [t.key for t in tiles]
    ['r000000_c000000', 'r000000_c000512', 'r000512_c000000', 'r000512_c000512']
    >>> tiles[3].read
    Window(col_off=496, row_off=496, width=104, height=504)
    """
    if size is None or size <= 0:
        size = max(height, width)
    if height <= 0 or width <= 0:
        return []
    tiles = []
    for r in range(0, height, size):
        for c in range(0, width, size):
            h, w = min(size, height - r), min(size, width - c)
            r0, c0 = max(r - halo, 0), max(c - halo, 0)
            r1, c1 = min(r + h + halo, height), min(c + w + halo, width)
            tiles.append(Tile(Window(c, r, w, h), Window(c0, r0, c1 - c0, r1 - r0)))
    return tiles
