"""Deprecated alias, removed in weipian 0.3.

Moved to :mod:`weipian.raster.clouds`.
"""

import warnings

from .raster.clouds import *  # noqa: F401,F403,E402

warnings.warn(
    "weipian.clouds moved to weipian.raster.clouds; the old path is removed in weipian 0.3",
    DeprecationWarning,
    stacklevel=2,
)
