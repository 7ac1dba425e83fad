"""Reference layers: find them in a folder, read them, repair them.

The layers are ``farmland`` (耕地, often the 三调 parcel layer DLTB),
``basic_farmland`` (永久基本农田), ``reserve`` (储备地), ``approved`` (批准用地),
``temporary`` (临时用地), ``government`` (政府投资项目), ``townships``
(街道/镇), and the optional ``redline`` (生态保护红线), ``boundary``
(城镇开发边界) and ``facility`` (设施农用地备案). In a layers folder each is
found by its English or Chinese file stem in any OGR format
(``farmland.gpkg``, ``耕地.shp``, ``DLTB.shp``, ``永久基本农田.gpkg`` ...). Any
layer may be absent.

Farmland is the features whose land-class code ``DLBM`` starts with ``01``
(0101 水田, 0102 水浇地, 0103 旱地) when the layer has that field, every
feature otherwise, or what an OGR SQL ``WHERE`` filter keeps
(``farmland_where``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import CRSMissingError, InputFileError, LayerError, WeipianWarning

__all__ = [
    "LAYER_NAMES",
    "LAYER_STEMS",
    "VECTOR_SUFFIXES",
    "LayerInfo",
    "find_layers",
    "read_layer",
    "first_field",
    "fields_present",
]

LAYER_NAMES = ("farmland", "basic_farmland", "reserve", "approved", "temporary", "government",
               "townships", "redline", "boundary", "facility")

#: File stems recognised for each layer, lower-cased.
LAYER_STEMS = {
    "farmland": ("farmland", "耕地", "gd", "dltb", "地类图斑"),
    "basic_farmland": ("basic_farmland", "永久基本农田", "基本农田", "jbnt", "yjjbnt"),
    "reserve": ("reserve", "储备地", "储备用地", "cbd"),
    "approved": ("approved", "批准用地", "pzyd"),
    "temporary": ("temporary", "临时用地", "lsyd"),
    "government": ("government", "政府投资项目", "zftzxm"),
    "townships": ("townships", "township", "街道", "乡镇", "镇", "jd"),
    "redline": ("redline", "生态保护红线", "生态红线", "sthx", "stbhhx"),
    "boundary": ("boundary", "城镇开发边界", "kfbj", "czkfbj"),
    "facility": ("facility", "设施农用地", "设施农用地备案", "ssnyd"),
}

#: Land-class code field of a land-survey parcel layer, and the farmland classes.
CLASS_FIELD = "DLBM"
FARMLAND_CLASSES = {"0101": "水田", "0102": "水浇地", "0103": "旱地"}

VECTOR_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json", ".fgb", ".gml", ".kml", ".sqlite")

#: Fields that name a feature, in order of preference (see :mod:`weipian.vector.naming`).
NAME_FIELDS = ("批准文号", "PZWH", "文号", "项目名称", "XMMC", "name", "NAME", "名称", "MC", "XZQMC", "JDMC")
TOWNSHIP_NAME_FIELDS = ("name", "NAME", "XZQMC", "JDMC", "街道", "乡镇", "名称", "MC")
TOWNSHIP_CODE_FIELDS = ("code", "CODE", "XZQDM", "行政区代码", "代码", "DM")


@dataclass
class LayerInfo:
    """What reading a layer did.

    Attributes
    ----------
    path : str
    features : int
        Features kept.
    repaired : int
        Invalid geometries made valid.
    dropped : int
        Empty or non-polygonal geometries dropped.
    filtered : int
        Features outside the layer's meaning dropped (farmland: DLBM not 01*,
        or not kept by the ``where`` filter).
    source_crs : str
    where : str
        The OGR SQL filter applied, if any.
    name_field : str
        The field that names the features ("" where none does).
    name_field_how : str
        How it was chosen: ``"set"`` (``--name-field``), ``"usual name"``,
        ``"first varying text field"`` or ``"none"`` (features are numbered).
    notes : list of str
    """

    path: str
    features: int = 0
    repaired: int = 0
    dropped: int = 0
    filtered: int = 0
    source_crs: str = ""
    where: str = ""
    name_field: str = ""
    name_field_how: str = ""
    notes: list = field(default_factory=list)


def find_layers(directory=None, overrides: dict | None = None) -> dict[str, Path]:
    """Find the reference layers in ``directory``; ``overrides`` win.

    Parameters
    ----------
    directory : str or Path, optional
    overrides : dict, optional
        Layer name to path, e.g. ``{"farmland": "gd2024.shp"}``.

    Returns
    -------
    dict
        Layer name to path, only for layers found.

    Raises
    ------
    InputFileError
        If the directory or an override does not exist.
    """
    found: dict[str, Path] = {}
    if directory is not None:
        directory = Path(directory)
        if not directory.is_dir():
            raise InputFileError(f"{directory}: layers folder not found; check --layers")
        files = sorted(p for p in directory.iterdir() if p.suffix.lower() in VECTOR_SUFFIXES)
        for name in LAYER_NAMES:
            for p in files:
                if p.stem.lower() in LAYER_STEMS[name]:
                    found[name] = p
                    break
    for name, path in (overrides or {}).items():
        if path is None:
            continue
        if name not in LAYER_NAMES:
            raise LayerError(f"unknown layer {name!r}; expected one of {', '.join(LAYER_NAMES)}")
        path = Path(path)
        if not path.exists():
            raise InputFileError(f"{path}: {name} layer not found; check --{name.replace('_', '-')}")
        found[name] = path
    return found


def fields_present(frame) -> str:
    """The attribute fields of a layer, comma-separated, for messages that ask for one of them."""
    return ", ".join(str(c) for c in frame.columns if c != "geometry")


def first_field(columns, candidates) -> str | None:
    """The first of ``candidates`` present in ``columns`` (case-sensitive, then not)."""
    cols = list(columns)
    for c in candidates:
        if c in cols:
            return c
    lower = {str(c).lower(): c for c in cols}
    for c in candidates:
        if c.lower() in lower:
            return lower[c.lower()]
    return None


def _polygonal(geom):
    """Keep the polygonal part of a geometry (after make_valid)."""
    if geom is None or geom.is_empty:
        return None
    kind = geom.geom_type
    if kind in ("Polygon", "MultiPolygon"):
        return geom
    if kind == "GeometryCollection":
        polys = [g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
        return shapely.union_all(polys) if polys else None
    return None


def _dbf_encoding(path: Path) -> str | None:
    """Encoding of a Shapefile's attributes when it has no ``.cpg``: UTF-8, else GBK.

    Chinese Shapefiles without ``.cpg`` are nearly always GBK (older ArcGIS);
    GDAL would read them as Latin-1 and garble every name.
    """
    if path.suffix.lower() != ".shp" or any(path.with_suffix(s).exists() for s in (".cpg", ".CPG")):
        return None
    dbf = next((path.with_suffix(s) for s in (".dbf", ".DBF") if path.with_suffix(s).exists()), None)
    if dbf is None:
        return None
    raw = dbf.read_bytes()
    header = int.from_bytes(raw[8:10], "little") if len(raw) > 10 else 0
    records = raw[header:]
    if all(b < 0x80 for b in records):
        return None
    try:
        records.decode("utf-8")
        return "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        records.decode("gbk")
        return "GBK"
    except UnicodeDecodeError:
        return None


def read_layer(path, crs, *, name: str, bbox=None, layer_crs=None,
               where: str | None = None) -> tuple[gpd.GeoDataFrame, LayerInfo]:
    """Read one reference layer in ``crs``, with repaired polygon geometries.

    Parameters
    ----------
    path : str or Path
    crs : CRS-like
        Target CRS (the imagery's).
    name : str
        Layer name, for messages and layer-specific filtering.
    bbox : tuple, optional
        ``(minx, miny, maxx, maxy)`` in ``crs``; only features intersecting it
        are read.
    layer_crs : CRS-like, optional
        CRS to assume when the layer has none (a Shapefile without ``.prj``).
    where : str, optional
        OGR SQL ``WHERE`` clause selecting the features to keep, e.g.
        ``"DLBM LIKE '01%'"``; for farmland it replaces the ``DLBM`` filter.

    Returns
    -------
    GeoDataFrame, LayerInfo

    Raises
    ------
    InputFileError, CRSMissingError, LayerError
    """
    import pyogrio

    path = Path(path)
    info = LayerInfo(path=str(path))
    try:
        meta = pyogrio.read_info(path)
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise InputFileError(
            f"{path}: not a readable vector layer ({str(exc).splitlines()[0][:120]}); "
            "give a GeoPackage, Shapefile or GeoJSON"
        ) from None
    source_crs = meta.get("crs") or layer_crs
    if not source_crs:
        raise CRSMissingError(
            f"{path}: the {name} layer has no CRS (missing .prj?); pass --layer-crs EPSG:4547 "
            "(the CRS it is in) or add a .prj"
        )
    frame = _read_frame(path, crs, source_crs, bbox, info, where=where)
    info.source_crs = str(source_crs)
    geom_types = set(frame.geom_type.dropna().unique())
    if frame.empty:
        info.notes.append("empty layer")
    elif not geom_types & {"Polygon", "MultiPolygon", "GeometryCollection"}:
        raise LayerError(
            f"{path}: the {name} layer holds {', '.join(sorted(geom_types))}, not polygons; "
            "give a polygon layer"
        )
    if name == "farmland" and not where:
        dlbm = first_field(frame.columns, (CLASS_FIELD,))
        if dlbm is not None:
            keep = frame[dlbm].astype(str).str.startswith("01")
            info.filtered = int((~keep).sum())
            frame = frame[keep]
    frame = _repaired(frame, info)
    if frame.crs != crs:
        frame = frame.to_crs(crs)
    info.features = len(frame)
    if info.repaired or info.dropped:
        warnings.warn(
            f"{path}: {info.repaired} invalid geometries repaired, {info.dropped} empty or "
            "non-polygonal dropped",
            WeipianWarning,
            stacklevel=2,
        )
    return frame, info



def _read_frame(path: Path, crs, source_crs, bbox, info: LayerInfo, *, where=None) -> gpd.GeoDataFrame:
    """Read the features inside ``bbox`` (given in ``crs``) kept by ``where``, with the right encoding."""
    read_bbox = None
    if bbox is not None:
        from pyproj import Transformer

        t = Transformer.from_crs(crs, source_crs, always_xy=True)
        read_bbox = t.transform_bounds(*bbox, densify_pts=21)
    encoding = _dbf_encoding(path)
    if encoding:
        info.notes.append(f"attributes read as {encoding} (no .cpg)")
    extra = {"encoding": encoding} if encoding else {}
    if where:
        extra["where"] = where
        info.where = where
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            frame = gpd.read_file(path, engine="pyogrio", bbox=read_bbox, fid_as_index=True, **extra)
        except Exception as exc:
            if not where:
                raise
            import pyogrio

            fields = ", ".join(str(f) for f in pyogrio.read_info(path, encoding=encoding)["fields"])
            raise LayerError(
                f"{path}: the filter {where!r} cannot be applied ({str(exc).splitlines()[0][:120]}); "
                f"write an OGR SQL WHERE clause over the fields present: {fields}"
            ) from None
    frame.index.name = "fid"  # the feature's id in the file: what an analyst finds in QGIS
    return frame if frame.crs is not None else frame.set_crs(source_crs)


def _repaired(frame: gpd.GeoDataFrame, info: LayerInfo) -> gpd.GeoDataFrame:
    """Invalid geometries made valid, polygonal parts kept, empty ones dropped (counted in ``info``)."""
    geoms = np.asarray(frame.geometry.values)
    invalid = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    info.repaired = int(invalid.sum())
    fixed = geoms.copy()
    if invalid.any():
        fixed[invalid] = shapely.make_valid(fixed[invalid])
    fixed = np.array([_polygonal(g) for g in fixed], dtype=object)
    keep = np.array([g is not None and not g.is_empty for g in fixed], bool)
    info.dropped = int((~keep).sum())
    return gpd.GeoDataFrame(
        frame.drop(columns=frame.geometry.name)[keep],
        geometry=list(fixed[keep]), crs=frame.crs,
    )

def dates_column(frame: pd.DataFrame, field_name: str, *, path, parse) -> np.ndarray:
    """Parse a date column, naming the rows that cannot be parsed.

    Parameters
    ----------
    frame : DataFrame
    field_name : str
    path : str
        For the error message.
    parse : callable
        ``parse(value, source=...) -> date``.

    Returns
    -------
    ndarray of datetime.date (object); None where the cell is empty.

    Raises
    ------
    FieldError
        If the field is missing (the message lists the fields present).
    DateError
        If cells cannot be parsed (the message names the rows).
    """
    from ..errors import DateError, FieldError

    if field_name not in frame.columns:
        raise FieldError(
            f"{path}: no end-date field {field_name!r}; fields present: {fields_present(frame)}; "
            "name the right one with --end-date-field"
        )
    out = np.empty(len(frame), object)
    bad = []
    for i, value in enumerate(frame[field_name].tolist()):
        if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
            out[i] = None
            continue
        try:
            out[i] = parse(value, source=field_name)
        except DateError:
            bad.append((i, value))
    if bad:
        shown = "; ".join(f"row {i + 1}: {v!r}" for i, v in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise DateError(
            f"{path}: {field_name} holds values that are not dates ({shown}{more}); "
            "write them as YYYY-MM-DD"
        )
    return out
