"""Deprecated alias, removed in weipian 0.3.

Moved to :mod:`weipian.deliver.tables`, :mod:`weipian.deliver.vector`,
:mod:`weipian.deliver.route`, :mod:`weipian.deliver.lists`.
"""

import warnings

from .deliver.lists import *  # noqa: F401,F403,E402
from .deliver.route import *  # noqa: F401,F403,E402
from .deliver.tables import *  # noqa: F401,F403,E402
from .deliver.vector import *  # noqa: F401,F403,E402

warnings.warn(
    "weipian.export moved to weipian.deliver.tables, weipian.deliver.vector, weipian.deliver.ro"
    "ute, weipian.deliver.lists; the old path is removed in weipian 0.3",
    DeprecationWarning,
    stacklevel=2,
)
