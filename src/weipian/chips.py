"""Deprecated alias, removed in weipian 0.3.

Moved to :mod:`weipian.deliver.chips`.
"""

import warnings

from .deliver.chips import *  # noqa: F401,F403,E402

warnings.warn(
    "weipian.chips moved to weipian.deliver.chips; the old path is removed in weipian 0.3",
    DeprecationWarning,
    stacklevel=2,
)
