"""Deprecated alias, removed in weipian 0.3.

Moved to :mod:`weipian.testing.scenes`.
"""

import warnings

from .testing.scenes import *  # noqa: F401,F403,E402

warnings.warn(
    "weipian.data moved to weipian.testing.scenes; the old path is removed in weipian 0.3",
    DeprecationWarning,
    stacklevel=2,
)
