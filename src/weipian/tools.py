"""Deprecated alias, removed in weipian 0.3.

Moved to :mod:`weipian.workflows`, :mod:`weipian.schema`.
"""

import warnings

from .schema import *  # noqa: F401,F403,E402
from .workflows import *  # noqa: F401,F403,E402

warnings.warn(
    "weipian.tools moved to weipian.workflows, weipian.schema; the old path is removed in weipi"
    "an 0.3",
    DeprecationWarning,
    stacklevel=2,
)
