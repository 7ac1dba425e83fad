"""Deprecated alias, removed in weipian 0.3.

Moved to :mod:`weipian.vector.overlay`.
"""

import warnings

from .vector.overlay import *  # noqa: F401,F403,E402

warnings.warn(
    "weipian.overlay moved to weipian.vector.overlay; the old path is removed in weipian 0.3",
    DeprecationWarning,
    stacklevel=2,
)
