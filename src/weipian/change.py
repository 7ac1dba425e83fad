"""Deprecated alias, removed in weipian 0.3.

Moved to :mod:`weipian.raster.register`, :mod:`weipian.raster.radiometry`,
:mod:`weipian.raster.difference`, :mod:`weipian.raster.morphology`, :mod:`weipian.raster.params`,
:mod:`weipian.raster.surface`, :mod:`weipian.raster.classic`.
"""

import warnings

from .raster.classic import *  # noqa: F401,F403,E402
from .raster.difference import *  # noqa: F401,F403,E402
from .raster.morphology import *  # noqa: F401,F403,E402
from .raster.params import *  # noqa: F401,F403,E402
from .raster.radiometry import *  # noqa: F401,F403,E402
from .raster.register import *  # noqa: F401,F403,E402
from .raster.surface import *  # noqa: F401,F403,E402

warnings.warn(
    "weipian.change moved to weipian.raster.register, weipian.raster.radiometry, weipian.raster"
    ".difference, weipian.raster.morphology, weipian.raster.params, weipian.raster.surface, wei"
    "pian.raster.classic; the old path is removed in weipian 0.3",
    DeprecationWarning,
    stacklevel=2,
)
