"""Settings objects: one frozen object per step, the same from Python, the CLI and the settings file.

- :class:`DetectSettings` (``detect``, ``run``): finding patches — bands,
  minimum mapping unit, target, masks, dates; its ``params`` is the change
  core (:class:`ChangeParams`).
- :class:`JudgeSettings` (``judge``, ``run``): labelling patches — date,
  shares, batch; its ``layer_params`` is how layers are read
  (:class:`LayerParams`).
- :class:`DeliverSettings` (``deliver``, ``run``): what is written — chips,
  encoding, route, lines.
- :class:`Execution` (``detect``, ``run``): how it runs — windows, workers,
  scheduler, resume, progress.
- :class:`FarmlandSettings` (``farmland``, ``run --farmland-use``): farmland
  use — the land-cover model and the parcel rule.

Every field has a CLI option of the same name (``min_area`` is ``--min-area``)
and a settings-file key of the same name (``min_area = 80`` at the top of the
file, or in a command's table such as ``[run]``). :func:`weipian.run` records
the objects whole in ``run.json`` under ``settings``.

The workflows take the objects, and any field by name as a short form::

    weipian.run(before, after, layers="layers", output="out")            # defaults
    weipian.run(before, after, layers="layers", output="out", min_area=80, workers=2)
    weipian.run(before, after, layers="layers", output="out",
                detect=DetectSettings(min_area=80), execution=Execution(workers=2))

A short form wins over the object it belongs to (:func:`resolve`); a name
that belongs to no object is a ``TypeError``, as for any function.

Sizes a user sets are in metres or m² (``min_area`` in m²; cloud reach in
metres, :class:`weipian.raster.clouds.CloudParams`); they become pixels in one
place each: :func:`weipian.patches.min_pixels_for` and
:meth:`weipian.raster.clouds.CloudParams.pixels`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace

__all__ = ["ChangeParams", "LayerParams", "DetectSettings", "JudgeSettings", "DeliverSettings",
           "Execution", "FarmlandSettings", "resolve", "read_settings", "load_toml", "shell_spellings",
           "settings_fields", "parse_name_fields"]


class _Settings:
    """Shared behaviour: a plain JSON-ready dict, nested objects included."""

    def to_dict(self) -> dict:
        """Plain JSON-ready dict."""
        out = asdict(self)
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Mapping):
                out[f.name] = dict(value)
        return out


@dataclass(frozen=True)
class ChangeParams(_Settings):
    """Settings of the change core.

    =====================  =======================================  ============================
    field                  meaning                                  CLI option / settings key
    =====================  =======================================  ============================
    ``model``              ONNX change model, or ``"default"``      ``--model`` / ``model``
    ``threshold``          probability above which a pixel is       ``--threshold`` / ``threshold``
                           flagged (None: the model card's value)
    ``vegetation_ndvi``    with a NIR band, after-epoch NDVI above  ``--vegetation-ndvi`` /
                           this is vegetation, never construction   ``vegetation_ndvi``
                           (None: no veto)
    ``quality``            ``fast``: finer imagery averaged to the  ``--quality`` / ``quality``
                           model's working size; ``accurate``:
                           native resolution, four flips averaged
    =====================  =======================================  ============================

    Parameters
    ----------
    model : str
        Path of an ONNX change model written by ``weipian train``, or
        ``"default"`` for the model shipped with weipian.
    threshold : float or None
        Change probability (0–1) above which a pixel is flagged; None uses
        the threshold in the model card.
    vegetation_ndvi : float or None
        Where both epochs have a near-infrared band, pixels whose after-epoch
        NDVI exceeds this are dense vegetation and never construction (a
        physical fact, not a fitted rule: built surfaces have NDVI near 0).
        None turns the veto off.
    quality : {"fast", "balanced", "accurate"}
        ``fast`` averages imagery finer than the model's working pixel size
        (about 1 m) down by 2 before the network and runs it once;
        ``balanced`` does the same over the four flips of each tile (four
        times the network cost); ``accurate`` runs it at the imagery's own
        resolution over four flips (16 times the network cost on 0.5 m
        imagery).
    """

    model: str = "default"
    threshold: float | None = None
    vegetation_ndvi: float | None = 0.5
    quality: str = "fast"

    def __post_init__(self):
        if self.threshold is not None and not 0.0 < float(self.threshold) < 1.0:
            raise ValueError(f"threshold was {self.threshold!r} but is expected to lie in (0, 1)")
        if self.vegetation_ndvi is not None and not -1.0 <= float(self.vegetation_ndvi) <= 1.0:
            raise ValueError(f"vegetation_ndvi was {self.vegetation_ndvi!r} but is expected to lie "
                             "in [-1, 1]")
        from .learn.resolution import QUALITIES

        if self.quality not in QUALITIES:
            raise ValueError(f"quality was {self.quality!r} but is expected to be "
                             f"{', '.join(QUALITIES[:-1])} or {QUALITIES[-1]}")


@dataclass(frozen=True)
class LayerParams(_Settings):
    """How the reference layers are read and interpreted by ``judge``.

    =====================  ====================================  ==============================
    field                  meaning                               CLI option / settings key
    =====================  ====================================  ==============================
    ``farmland_where``     OGR SQL filter selecting farmland     ``--farmland-where``
    ``name_fields``        layer -> identifying field            ``--name-field LAYER=FIELD``
    ``end_date_field``     end date of temporary approvals       ``--end-date-field``
    ``key_field``          government key-project flag field     ``--key-field``
    ``key_projects``       file listing key projects             ``--key-projects``
    =====================  ====================================  ==============================

    Parameters
    ----------
    farmland_where : str or None
        OGR SQL ``WHERE`` clause keeping the farmland features of the
        farmland layer (e.g. ``"LANDCLASS IN ('paddy', 'dry')"``); None keeps
        ``DLBM`` 01* where the layer has ``DLBM``, else every feature.
    name_fields : mapping of str to str
        Layer name to the field naming its features (e.g. ``{"approved":
        "doc"}``); layers not given use the usual names (see
        :mod:`weipian.vector.naming`).
    end_date_field : str or None
        End-date field of the temporary-use layer; None finds ``end_date``,
        ``截至时间`` ...
    key_field : str or None
        Key-project flag field of the government-project layer; None finds
        ``重点工程``, ``key_project`` ...
    key_projects : str or None
        A file listing key projects by name or 文号 (see
        :mod:`weipian.key_projects`).
    """

    farmland_where: str | None = None
    name_fields: Mapping[str, str] = field(default_factory=dict)
    end_date_field: str | None = None
    key_field: str | None = None
    key_projects: str | None = None

    def __post_init__(self):
        from .vector.layers import LAYER_NAMES

        for layer in self.name_fields:
            if layer not in LAYER_NAMES:
                raise ValueError(f"name_fields names the layer {layer!r}; expected one of "
                                 f"{', '.join(LAYER_NAMES)}")


@dataclass(frozen=True)
class DetectSettings(_Settings):
    """How patches are found (``weipian detect``).

    Parameters
    ----------
    bands : str or None
        Band roles in file order, e.g. ``"blue,green,red,nir"``; None reads
        the band descriptions.
    min_area : float
        Minimum mapping unit, m².
    target : {"construction", "any"}
        ``construction`` flags pixels that became built; ``any`` every
        significant change.
    params : ChangeParams
        The change core: model, threshold, vegetation veto.
    clouds : bool
        Detect clouds and cloud shadows in both epochs and leave them out.
    mask_before, mask_after : str or None
        Users' masks of pixels to leave out: a raster (non-zero = masked) or a
        polygon layer.
    crs : str or None
        CRS to assume for epochs whose files have none.
    min_overlap : float
        Smallest share (0–1) of the before image the after image must cover.
    before_date, after_date : str or None
        ``YYYY-MM-DD``, overriding the dates read from the image tags.
    """

    bands: str | None = None
    min_area: float = 50.0
    target: str = "construction"
    params: ChangeParams = field(default_factory=ChangeParams)
    clouds: bool = True
    mask_before: str | None = None
    mask_after: str | None = None
    crs: str | None = None
    min_overlap: float = 0.5
    before_date: str | None = None
    after_date: str | None = None

    def __post_init__(self):
        if float(self.min_area) < 0:
            raise ValueError(f"min_area was {self.min_area!r} but is expected to be >= 0 (m²)")
        if not 0.0 <= float(self.min_overlap) <= 1.0:
            raise ValueError(f"min_overlap was {self.min_overlap!r} but is expected to lie in [0, 1]")
        for name in ("mask_before", "mask_after", "crs", "before_date", "after_date"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):  # paths, dates, CRS objects
                object.__setattr__(self, name, str(value))


@dataclass(frozen=True)
class JudgeSettings(_Settings):
    """How patches are labelled (``weipian judge``).

    Parameters
    ----------
    after_date : str or None
        Date the temporary approvals are checked against; None uses the
        patches' ``after_date``.
    min_share : float
        Share (0–1] of a patch that must lie in approved, temporary, facility
        or government land for that label.
    batch : str or None
        Batch name in the patch ids; None uses the after date's quarter
        (``2024Q2``).
    layer_crs : str or None
        CRS to assume for layers without one (Shapefiles without ``.prj``).
    layer_params : LayerParams
        Farmland filter, fields that name features, key projects.
    """

    after_date: str | None = None
    min_share: float = 0.5
    batch: str | None = None
    layer_crs: str | None = None
    layer_params: LayerParams = field(default_factory=LayerParams)

    def __post_init__(self):
        if not 0.0 < float(self.min_share) <= 1.0:
            raise ValueError(f"min_share was {self.min_share!r} but is expected to lie in (0, 1]")
        for name in ("after_date", "layer_crs"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                object.__setattr__(self, name, str(value))


@dataclass(frozen=True)
class DeliverSettings(_Settings):
    """What is written for analysts and field crews (``weipian export``).

    Parameters
    ----------
    chips : bool
        Make before/after evidence chips for every patch (and embed them in
        the report).
    encoding : {"UTF-8", "GBK"}
        Shapefile attribute encoding (GBK for older ArcGIS).
    route : bool
        Add ``visit_order``: a short nearest-neighbour tour per township.
    line : float
        Accountability line of 违法占耕比 (0–1).
    strict_line : float or None
        A stricter line (some cities use 8 %); None draws none.
    """

    chips: bool = True
    encoding: str = "UTF-8"
    route: bool = False
    line: float = 0.15
    strict_line: float | None = 0.08

    def __post_init__(self):
        if str(self.encoding).upper() not in ("UTF-8", "GBK"):
            raise ValueError(f"encoding was {self.encoding!r} but is expected to be UTF-8 or GBK")


@dataclass(frozen=True)
class FarmlandSettings(_Settings):
    """Farmland use (耕地非粮化) in a run: the land-cover model and the parcel rule.

    :meth:`rule` gives the :class:`weipian.farmland.states.ParcelRule` these describe.

    Parameters
    ----------
    farmland_use : bool
        Judge every farmland parcel in ``weipian run`` (``--farmland-use``).
    cover_model : str
        ONNX land-cover model (``"default"``: the one shipped).
    parcel_min_share : float
        Share of a parcel's clear pixels a new use must hold (0–1).
    parcel_min_area : float
        Area (m²) a new use must hold on a parcel.
    parcel_max_obscured : float
        Largest share of a parcel under cloud or without data that still
        allows a judgement (0–1).
    parcel_min_confidence : float
        Lowest mean probability of the land-cover model over a parcel.
    parcel_min_built_area : float
        Area (m²) of construction patches that makes a parcel 非农化.
    """

    farmland_use: bool = False
    cover_model: str = "default"
    parcel_min_share: float = 0.5
    parcel_min_area: float = 200.0
    parcel_max_obscured: float = 0.3
    parcel_min_confidence: float = 0.4
    parcel_min_built_area: float = 50.0

    def rule(self):
        """The :class:`~weipian.farmland.states.ParcelRule` these settings describe (validated there)."""
        from .farmland.states import ParcelRule

        return ParcelRule(min_share=self.parcel_min_share, min_area_m2=self.parcel_min_area,
                          max_obscured=self.parcel_max_obscured, min_confidence=self.parcel_min_confidence,
                          min_built_m2=self.parcel_min_built_area)

    def __post_init__(self):
        self.rule()


@dataclass(frozen=True)
class Execution(_Settings):
    """How a run is executed; none of it changes the result.

    Parameters
    ----------
    window_size : int or None
        Side of the processing windows in pixels (snapped to the network
        tile); None for one window.
    workers : int or None
        Local threads or processes; None for all cores.
    scheduler : str or None
        ``threads`` (default), ``processes``, ``synchronous`` or a
        ``dask.distributed`` address (None: ``WEIPIAN_SCHEDULER``, else
        threads).
    resume : bool
        Continue an interrupted run from the windows it finished.
    work_dir : str or None
        Folder keeping finished windows (``run`` uses
        ``OUTDIR/.weipian-work``).
    progress : bool
        Show progress bars.
    """

    window_size: int | None = 1024
    workers: int | None = None
    scheduler: str | None = None
    resume: bool = False
    work_dir: str | None = None
    progress: bool = False

    def __post_init__(self):
        if self.window_size is not None and int(self.window_size) < 1:
            raise ValueError(f"window_size was {self.window_size!r} but is expected to be >= 1 or None")
        if self.workers is not None and int(self.workers) < 1:
            raise ValueError(f"workers was {self.workers!r} but is expected to be >= 1 or None")
        if self.work_dir is not None and not isinstance(self.work_dir, str):
            object.__setattr__(self, "work_dir", str(self.work_dir))


#: The nested objects, by the field that holds them.
_NESTED = {"params": ChangeParams, "layer_params": LayerParams}


def _field_names(cls) -> set[str]:
    return {f.name for f in fields(cls)}


def _apply(obj, options: dict, used: set):
    """``obj`` with the options that name its fields (or its nested objects' fields) replaced."""
    changes = {}
    for f in fields(obj):
        nested = _NESTED.get(f.name)
        if nested is not None:
            inner = getattr(obj, f.name)
            if f.name in options:
                inner = options[f.name] if options[f.name] is not None else nested()
                used.add(f.name)
            inner = _apply(inner, options, used)
            if inner is not getattr(obj, f.name):
                changes[f.name] = inner
        elif f.name in options:
            changes[f.name] = options[f.name]
            used.add(f.name)
    return replace(obj, **changes) if changes else obj


def resolve(options: Mapping, **objects):
    """Settings objects with the short-form options applied.

    Parameters
    ----------
    options : mapping
        Field name to value, e.g. ``{"min_area": 80, "workers": 2,
        "threshold": 0.6}``; a name may belong to a nested object
        (``threshold`` to ``DetectSettings.params``). A name held by several
        objects (``after_date``) is given to each.
    **objects
        Step name to the settings object (or None for its defaults), e.g.
        ``detect=DetectSettings(), execution=None``. The step names are
        ``detect``, ``judge``, ``deliver``, ``execution`` and ``farmland``.

    Returns
    -------
    tuple
        The objects in the order given.

    Raises
    ------
    TypeError
        If an option names no field of any of the objects.

    Examples
    --------
    >>> detect, execution = resolve({"min_area": 80, "workers": 2, "threshold": 0.6},
    ...                             detect=None, execution=None)
    >>> detect.min_area, detect.params.threshold, execution.workers
    (80, 0.6, 2)
    """
    classes = {"detect": DetectSettings, "judge": JudgeSettings, "deliver": DeliverSettings,
               "execution": Execution, "farmland": FarmlandSettings}
    options = dict(options)
    used: set[str] = set()
    out = []
    for step, obj in objects.items():
        cls = classes[step]
        if obj is None:
            obj = cls()
        elif not isinstance(obj, cls):
            raise TypeError(f"{step} was {type(obj).__name__} but is expected to be {cls.__name__}")
        out.append(_apply(obj, options, used))
    unknown = sorted(set(options) - used)
    if unknown:
        known = set()
        for step in objects:
            known |= _field_names(classes[step])
        for nested in _NESTED.values():
            known |= _field_names(nested)
        raise TypeError(f"unexpected option(s) {', '.join(unknown)}; the settings here are "
                        f"{', '.join(sorted(known))}")
    return tuple(out)


def settings_fields() -> dict[str, tuple[type, ...]]:
    """Every settings field name with the objects that hold it (for the CLI and the docs)."""
    out: dict[str, tuple[type, ...]] = {}
    for cls in (DetectSettings, ChangeParams, JudgeSettings, LayerParams, DeliverSettings, Execution,
                FarmlandSettings):
        for f in fields(cls):
            if f.name not in _NESTED:
                out[f.name] = out.get(f.name, ()) + (cls,)
    return out


def load_toml(path, *, hint: str) -> dict:
    """A TOML file as a dict; an unreadable or invalid file is one error naming it (``hint``: the fix).

    Raises
    ------
    weipian.errors.WeipianError
    """
    from .errors import WeipianError

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise WeipianError(f"{path}: settings file cannot be read ({exc.strerror}); {hint}") from None
    except tomllib.TOMLDecodeError as exc:
        raise WeipianError(f"{path}: not valid TOML ({exc}); fix the file") from None


def shell_spellings(options: dict, *, source: str = "") -> dict:
    """``options`` with the two shell spellings turned into fields, in place and returned.

    ``name_field`` (``["LAYER=FIELD", ...]``, the repeatable ``--name-field``)
    becomes ``name_fields``; a true ``no_vegetation_veto`` sets
    ``vegetation_ndvi`` to None.

    Raises
    ------
    weipian.errors.WeipianError
        If a ``name_field`` item is malformed (the message starts with ``source``).
    """
    from .errors import WeipianError

    if "name_field" in options:
        try:
            options["name_fields"] = parse_name_fields(options.pop("name_field"))
        except ValueError as exc:
            raise WeipianError(f"{source}{exc}") from None
    if options.pop("no_vegetation_veto", False):
        options["vegetation_ndvi"] = None
    return options


def read_settings(path, command: str = "run") -> dict:
    """The settings objects a settings file gives one command, as the CLI builds them.

    Top-level keys apply to every command, a table such as ``[run]`` to one
    (and wins); keys are the field names (``min_area`` or ``min-area``), with
    the CLI's two shell spellings: ``name_field = ["approved=doc"]`` and
    ``no_vegetation_veto = true``. Keys that are no settings field (the
    ledger's ``ledger``, ``overwrite`` ...) are left to the CLI.

    Parameters
    ----------
    path : str or Path
        A TOML file.
    command : {"run", "detect", "judge", "export", "batch"}

    Returns
    -------
    dict
        Step name (``detect``, ``judge``, ``deliver``, ``execution``) to its
        settings object, for the steps ``command`` has.

    Raises
    ------
    weipian.errors.WeipianError
        If the file cannot be read or parsed, or a value is out of range.
    """
    from .errors import WeipianError

    steps = COMMAND_STEPS.get(command)
    if steps is None:
        raise WeipianError(f"command was {command!r} but is expected to be one of {', '.join(COMMAND_STEPS)}")
    data = load_toml(path, hint="check the path")
    flat = {k: v for k, v in data.items() if not isinstance(v, dict)}
    flat.update(data.get(command, {}))
    options = shell_spellings({str(k).replace("-", "_"): v for k, v in flat.items()}, source=f"{path}: ")
    owners = settings_fields()
    wanted = {cls for step in steps for cls in _STEP_CLASSES[step]}
    options = {k: v for k, v in options.items() if wanted.intersection(owners.get(k, ()))}
    try:
        objects = resolve(options, **{step: None for step in steps})
    except ValueError as exc:
        raise WeipianError(f"{path}: {exc}") from None
    return dict(zip(steps, objects))


#: The steps each command runs, in order.
COMMAND_STEPS = {"run": ("detect", "judge", "deliver", "execution", "farmland"),
                 "detect": ("detect", "execution"),
                 "judge": ("judge",), "export": ("deliver",), "batch": ("detect", "judge", "execution"),
                 "farmland": ("farmland",)}
_STEP_CLASSES = {"detect": (DetectSettings, ChangeParams), "judge": (JudgeSettings, LayerParams),
                 "deliver": (DeliverSettings,), "execution": (Execution,),
                 "farmland": (FarmlandSettings,)}


def parse_name_fields(items) -> dict[str, str]:
    """``["approved=doc", "government=project"]`` as ``{"approved": "doc", ...}``.

    Raises
    ------
    ValueError
        If an item is not ``LAYER=FIELD`` or names an unknown layer.

    Examples
    --------
    >>> parse_name_fields(["approved=doc", "basic-farmland=TBBH"])
    {'approved': 'doc', 'basic_farmland': 'TBBH'}
    """
    from .vector.layers import LAYER_NAMES

    out = {}
    for item in items or ():
        layer, sep, name = str(item).partition("=")
        layer = layer.strip().replace("-", "_")
        if not sep or not layer or not name.strip():
            raise ValueError(f"--name-field {item!r} is not LAYER=FIELD; write e.g. approved=批准文号")
        if layer not in LAYER_NAMES:
            raise ValueError(f"--name-field {item!r}: unknown layer {layer!r}; expected one of "
                             f"{', '.join(LAYER_NAMES)}")
        out[layer] = name.strip()
    return out

