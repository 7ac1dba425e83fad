"""Path-in, path-out workflows: the guts of the ``weipian`` commands minus the option parsing.

=================  =========================================================
module             workflow
=================  =========================================================
``detection``      :func:`detect`: two epochs in, patches out
``judgement``      :func:`judge`: patches overlaid with the layers, labelled
``delivery``       :func:`deliver`: lists, statistics, chips, report
``pipeline``       :func:`run`: all three into a folder, with ``run.json``
``farmland``       :func:`farmland_use`: every farmland parcel judged (非粮化)
=================  =========================================================

They work on named files and return GeoDataFrames, for notebooks and other
tools; each takes its settings object (:mod:`weipian.settings`) and any of
its fields by name.
"""

from ..patch_files import read_patches, write_patches
from .delivery import deliver
from .detection import detect
from .farmland import farmland_use
from .judgement import judge
from .pipeline import run

__all__ = ["detect", "judge", "deliver", "run", "farmland_use", "read_patches", "write_patches"]
