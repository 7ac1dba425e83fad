"""What a layer's features are called, and their dates, as people write them.

A reason must name the feature a patch lies in by what people call it: an
approval by its document number (批准文号), a project by its name (项目名称).
Each layer's identifying field is found among the usual names for that
layer (:data:`NAME_FIELDS_BY_LAYER`), or set by the user (``--name-field
approved=doc``); failing both, the first text field whose values vary is
taken and the choice is logged. Where no field names the features they are
cited by their feature id in the file (``FID 7``).

Date fields are found the same way: the approval date (批准时间) among
:data:`APPROVAL_DATE_FIELDS`, the end of a temporary approval (截至时间)
among :data:`END_DATE_FIELDS`.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..errors import FieldError
from .layers import FARMLAND_CLASSES, TOWNSHIP_NAME_FIELDS, fields_present, first_field

__all__ = [
    "NAME_FIELDS_BY_LAYER",
    "APPROVAL_DATE_FIELDS",
    "END_DATE_FIELDS",
    "choose_name_field",
    "text_fields",
    "feature_labels",
    "farmland_class_names",
]

log = logging.getLogger(__name__)

_DOCUMENT = ("批准文号", "PZWH", "文号", "WH", "批复文号", "PFWH")
_PROJECT = ("项目名称", "XMMC", "工程名称", "GCMC")
_GENERIC = ("name", "NAME", "名称", "MC")

#: Usual identifying fields per layer, in order of preference.
NAME_FIELDS_BY_LAYER: dict[str, tuple[str, ...]] = {
    "approved": _DOCUMENT + _PROJECT + _GENERIC,
    "temporary": _DOCUMENT + _PROJECT + _GENERIC,
    "government": _PROJECT + _GENERIC + _DOCUMENT,
    "reserve": _PROJECT + ("地块名称", "DKMC", "地块编号", "DKBH") + _GENERIC,
    "facility": ("备案编号", "BABH") + _PROJECT + _GENERIC + _DOCUMENT,
    "redline": ("红线名称", "HXMC") + _GENERIC,
    "boundary": _GENERIC,
    "basic_farmland": ("图斑编号", "TBBH") + _GENERIC,
    "townships": TOWNSHIP_NAME_FIELDS,
}

#: Usual approval-date fields (批准时间).
APPROVAL_DATE_FIELDS = ("批准时间", "批准日期", "PZSJ", "PZRQ", "approved_date", "approval_date", "date")

#: Usual end-date fields of temporary approvals (截至时间).
END_DATE_FIELDS = ("end_date", "截至时间", "截止时间", "截至日期", "截止日期", "到期时间", "JZSJ", "JZRQ")


def text_fields(frame: pd.DataFrame) -> list[str]:
    """Columns holding text (not geometry, numbers or dates), in file order."""
    geometry = getattr(frame, "geometry", None)
    skip = {geometry.name} if geometry is not None else set()
    out = []
    for column in frame.columns:
        if column in skip:
            continue
        values = frame[column].dropna()
        if len(values) and all(isinstance(v, str) for v in values.head(50)):
            out.append(column)
    return out


def choose_name_field(frame: pd.DataFrame, layer: str, chosen: str | None = None, *,
                      path="") -> tuple[str | None, str]:
    """The field that names a layer's features, and how it was chosen.

    Parameters
    ----------
    frame : DataFrame
        The layer's features.
    layer : str
        Layer name (``approved``, ``government`` ...).
    chosen : str, optional
        A field named by the user; it must exist.
    path : str
        The layer's file, for messages.

    Returns
    -------
    field : str or None
        None where no field names the features.
    how : str
        ``"set"``, ``"usual name"``, ``"first varying text field"`` or ``"none"``.

    Raises
    ------
    FieldError
        If ``chosen`` is not a field of the layer.

    Examples
    --------
    >>> f = pd.DataFrame({"id": [1, 2], "doc": ["临字[2023]12号", "临字[2023]13号"]})
    >>> choose_name_field(f, "temporary")
    ('doc', 'first varying text field')
    >>> choose_name_field(f.rename(columns={"doc": "PZWH"}), "temporary")
    ('PZWH', 'usual name')
    """
    if chosen:
        if chosen not in frame.columns:
            raise FieldError(f"{path}: no field {chosen!r} in the {layer} layer; fields present: "
                             f"{fields_present(frame)}; fix --name-field {layer}=FIELD")
        return chosen, "set"
    usual = first_field(frame.columns, NAME_FIELDS_BY_LAYER.get(layer, _GENERIC))
    if usual is not None:
        return usual, "usual name"
    text = text_fields(frame)
    varying = [c for c in text if frame[c].nunique(dropna=True) > 1]
    pick = varying[0] if varying else (text[0] if text and len(frame) == 1 else None)
    if pick is None:
        log.info("%s: no field names the %s features; they are numbered #1, #2 ...", path, layer)
        return None, "none"
    log.info("%s: the %s features are named by their %r field (the first text field that varies; "
             "set another with --name-field %s=FIELD)", path, layer, pick, layer)
    return pick, "first varying text field"


def feature_labels(frame: pd.DataFrame, field: str | None) -> np.ndarray:
    """Each feature's name from ``field``; its id where the field is None or empty.

    The id is ``FID <n>``, the feature id in its file (as QGIS shows it),
    where the frame was read by :func:`weipian.vector.layers.read_layer`
    (index named ``fid``), else ``#1``, ``#2`` ... in frame order.

    Returns
    -------
    (n,) ndarray of str (object)
    """
    if frame.index.name == "fid":
        numbered = np.array([f"FID {i}" for i in frame.index], dtype=object)
    else:
        numbered = np.array([f"#{i + 1}" for i in range(len(frame))], dtype=object)
    if field is None:
        return numbered
    values = frame[field].to_numpy(dtype=object)
    text = np.array(["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()
                     for v in values], dtype=object)
    return np.where(text == "", numbered, text)


def farmland_class_names(codes) -> np.ndarray:
    """Land-class codes as people read them: ``"0101 水田"``; other codes as they are.

    Examples
    --------
    >>> list(farmland_class_names(["0101", "0103", "01"]))
    ['0101 水田', '0103 旱地', '01']
    """
    out = []
    for code in codes:
        code = "" if code is None else str(code).strip()
        name = FARMLAND_CLASSES.get(code[:4])
        out.append(f"{code} {name}" if name else code)
    return np.array(out, dtype=object)
