"""Tiled prediction on a fixed grid (pure numpy around a model callable).

The network runs on tiles of ``tile`` pixels, each seen with ``margin``
pixels of context on every side (mirrored where the image ends). The grid is
anchored at a given origin, so a pixel's probability depends only on the
pixels around it and its place in the grid — never on how a caller windows
the image, as long as windows start on the grid and carry the margin.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["predict_tiled", "TILE", "MARGIN"]

#: Core side of a network tile (pixels; a multiple of the network stride).
TILE = 256
#: Context on each side of a tile (pixels; a multiple of the network stride).
MARGIN = 32


def _padded(array: np.ndarray, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """``array[:, r0:r1, c0:c1]`` with out-of-range rows/cols mirrored."""
    _, rows, cols = array.shape
    pr0, pr1 = max(0, -r0), max(0, r1 - rows)
    pc0, pc1 = max(0, -c0), max(0, c1 - cols)
    core = array[:, max(r0, 0):min(r1, rows), max(c0, 0):min(c1, cols)]
    if pr0 or pr1 or pc0 or pc1:
        mode = "reflect" if min(core.shape[1:]) > max(pr0, pr1, pc0, pc1) else "edge"
        core = np.pad(core, ((0, 0), (pr0, pr1), (pc0, pc1)), mode=mode)
    return core


def predict_tiled(before: np.ndarray, after: np.ndarray,
                  run: Callable[[np.ndarray, np.ndarray], np.ndarray], *,
                  region: tuple[int, int, int, int] | None = None, tile: int = TILE,
                  margin: int = MARGIN, batch: int = 4) -> np.ndarray:
    """Change probabilities over a region, tile by tile.

    Parameters
    ----------
    before, after : (C, M, N) ndarray of float32
        Model input channels of both epochs.
    run : callable
        ``run(before, after)`` on ``(n, C, tile + 2 margin, tile + 2 margin)``
        arrays returns ``(n, K, same, same)`` probabilities.
    region : (row0, col0, row1, col1), optional
        Pixels to predict (default: all); the tile grid starts at
        ``(row0, col0)``. Context is taken from the arrays around the region
        and mirrored beyond their edges.
    tile, margin : int
    batch : int
        Tiles per call of ``run``.

    Returns
    -------
    (K, row1 - row0, col1 - col0) ndarray of float32
    """
    r_start, c_start, r_end, c_end = region or (0, 0) + before.shape[1:]
    starts = [(r, c) for r in range(r_start, r_end, tile) for c in range(c_start, c_end, tile)]
    out = None
    side = tile + 2 * margin
    for k in range(0, len(starts), batch):
        chunk = starts[k:k + batch]
        xb = np.stack([_padded(before, r - margin, r + tile + margin, c - margin, c + tile + margin)
                       for r, c in chunk])
        xa = np.stack([_padded(after, r - margin, r + tile + margin, c - margin, c + tile + margin)
                       for r, c in chunk])
        probs = run(xb, xa)
        assert probs.shape[-2:] == (side, side)
        if out is None:
            out = np.zeros((probs.shape[1], r_end - r_start, c_end - c_start), np.float32)
        for (r, c), p in zip(chunk, probs):
            h, w = min(tile, r_end - r), min(tile, c_end - c)
            out[:, r - r_start:r - r_start + h, c - c_start:c - c_start + w] = \
                p[:, margin:margin + h, margin:margin + w]
    if out is None:
        out = np.zeros((2, max(0, r_end - r_start), max(0, c_end - c_start)), np.float32)
    return out
