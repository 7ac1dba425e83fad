"""Deprecated alias, removed in weipian 0.3.

Moved to :mod:`weipian.testing.scores`.
"""

import warnings

from .testing.scores import *  # noqa: F401,F403,E402

warnings.warn(
    "weipian.evaluate moved to weipian.testing.scores; the old path is removed in weipian 0.3",
    DeprecationWarning,
    stacklevel=2,
)
