"""Deprecated alias, removed in weipian 0.3.

Moved to :mod:`weipian.legality`.
"""

import warnings

from .legality import *  # noqa: F401,F403,E402

warnings.warn(
    "weipian.classify moved to weipian.legality; the old path is removed in weipian 0.3",
    DeprecationWarning,
    stacklevel=2,
)
