"""Deprecated alias, removed in weipian 0.3.

Moved to :mod:`weipian.engine.pair_model`.
"""

import warnings

from .engine.pair_model import *  # noqa: F401,F403,E402

warnings.warn(
    "weipian.model moved to weipian.engine.pair_model; the old path is removed in weipian 0.3",
    DeprecationWarning,
    stacklevel=2,
)
