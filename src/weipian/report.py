"""Deprecated alias, removed in weipian 0.3.

Moved to :mod:`weipian.deliver.report`.
"""

import warnings

from .deliver.report import *  # noqa: F401,F403,E402

warnings.warn(
    "weipian.report moved to weipian.deliver.report; the old path is removed in weipian 0.3",
    DeprecationWarning,
    stacklevel=2,
)
