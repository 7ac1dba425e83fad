"""Deprecated alias, removed in weipian 0.3.

Moved to :mod:`weipian.engine.scheduler`, :mod:`weipian.engine.readers`.
"""

import warnings

from .engine.readers import *  # noqa: F401,F403,E402
from .engine.scheduler import *  # noqa: F401,F403,E402

warnings.warn(
    "weipian.parallel moved to weipian.engine.scheduler, weipian.engine.readers; the old path i"
    "s removed in weipian 0.3",
    DeprecationWarning,
    stacklevel=2,
)
