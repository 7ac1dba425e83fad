"""Settings of the change core, settable from Python, the CLI and the TOML settings file.

=====================  =======================================  ============================
field                  meaning                                  CLI option / settings key
=====================  =======================================  ============================
``model``              ONNX change model, or ``"default"``      ``--model`` / ``model``
``threshold``          probability above which a pixel is       ``--threshold`` / ``threshold``
                       flagged (None: the model card's value)
``vegetation_ndvi``    with a NIR band, after-epoch NDVI above  ``--vegetation-ndvi`` /
                       this is vegetation, never construction   ``vegetation_ndvi``
                       (None: no veto)
=====================  =======================================  ============================

Sizes a user sets elsewhere are in metres or m² (``min_area`` in m²; cloud
reach in metres, :class:`weipian.raster.clouds.CloudParams`); they become
pixels in one place each: :func:`weipian.patches.min_pixels_for` and
:meth:`weipian.raster.clouds.CloudParams.pixels`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

__all__ = ["ChangeParams", "LayerParams", "parse_name_fields"]


@dataclass(frozen=True)
class ChangeParams:
    """Settings of the change core.

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
    """

    model: str = "default"
    threshold: float | None = None
    vegetation_ndvi: float | None = 0.5

    def __post_init__(self):
        if self.threshold is not None and not 0.0 < float(self.threshold) < 1.0:
            raise ValueError(f"threshold was {self.threshold!r} but is expected to lie in (0, 1)")
        if self.vegetation_ndvi is not None and not -1.0 <= float(self.vegetation_ndvi) <= 1.0:
            raise ValueError(f"vegetation_ndvi was {self.vegetation_ndvi!r} but is expected to lie "
                             "in [-1, 1]")

    def to_dict(self) -> dict:
        """Plain JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class LayerParams:
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

    def to_dict(self) -> dict:
        """Plain JSON-ready dict."""
        out = asdict(self)
        out["name_fields"] = dict(self.name_fields)
        return out


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
