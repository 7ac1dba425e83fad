"""Deprecated alias, removed in weipian 0.3.

Moved to :mod:`weipian.engine.windows`.
"""

import warnings

from .engine.windows import *  # noqa: F401,F403,E402

warnings.warn(
    "weipian.windows moved to weipian.engine.windows; the old path is removed in weipian 0.3",
    DeprecationWarning,
    stacklevel=2,
)
