"""Deprecated alias, removed in weipian 0.3.

Moved to :mod:`weipian.raster.register`, :mod:`weipian.raster.radiometry`,
:mod:`weipian.raster.difference`, :mod:`weipian.raster.morphology`, :mod:`weipian.params`.
"""

import warnings

from .params import ChangeParams  # noqa: F401,E402
from .raster.difference import *  # noqa: F401,F403,E402
from .raster.morphology import *  # noqa: F401,F403,E402
from .raster.radiometry import *  # noqa: F401,F403,E402
from .raster.register import *  # noqa: F401,F403,E402

warnings.warn(
    "weipian.change moved to weipian.raster (register, radiometry, difference, morphology) and "
    "weipian.params; the old path is removed in weipian 0.3",
    DeprecationWarning,
    stacklevel=2,
)
