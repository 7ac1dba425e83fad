"""Deprecated alias, removed in weipian 0.3.

Moved to :mod:`weipian.vector.layers`.
"""

import warnings

from .vector.layers import *  # noqa: F401,F403,E402

warnings.warn(
    "weipian.layers moved to weipian.vector.layers; the old path is removed in weipian 0.3",
    DeprecationWarning,
    stacklevel=2,
)
