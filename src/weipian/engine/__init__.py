"""Windowed detection over whole pairs: I/O and Dask, no arithmetic of its own.

- :mod:`~weipian.engine.windows` — tiles (core + halo), pure
- :mod:`~weipian.engine.pair_model` — shift, normalisation and noise for a whole pair, from sample windows
- :mod:`~weipian.engine.readers` — one open reader per thread
- :mod:`~weipian.engine.tiles` — one tile: read, prepare, mask, detect, pieces
- :mod:`~weipian.engine.scheduler` — tiles through Dask, progress, resumable work folder

Imports go one way: scheduler → tiles → pair_model → readers → windows.
"""

import warnings as _warnings

_MOVED = {"process_tile": "tiles", "MaskSettings": "tiles", "obscured_mask": "tiles", "CELL": "tiles",
          "tile_pieces": None, "assemble_pieces": None, "empty_pieces": None}


def __getattr__(name):
    """The names of the former ``weipian.engine`` module, with a DeprecationWarning."""
    if name not in _MOVED:
        raise AttributeError(f"module 'weipian.engine' has no attribute {name!r}")
    import importlib

    where = f"weipian.engine.{_MOVED[name]}" if _MOVED[name] else "weipian.patches"
    _warnings.warn(f"weipian.engine.{name} moved to {where}.{name}; the old path is removed in weipian 0.3",
                   DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(where), name)
