"""Key projects (重点工程): the government projects deducted in "扣减后" ratios.

Dashboards deduct only key projects (provincial level and above, as a
county is told) from 违法占耕比, not every government project. A
government-project feature is a key project when

1. its flag field (the first of :data:`KEY_FLAG_FIELDS` present, or the
   field named with ``--key-field``) holds a true value
   (:data:`TRUE_VALUES`: 是, Y, yes, true, 1, 重点 ...), or
2. any of its text values (name, 文号 ...) is listed in a key-project file
   (``--key-projects FILE``: one name or 文号 per line, or the cells of a CSV).

With neither, no project is a key project and the deducted ratio equals the
raw one; the rule applied is recorded in ``run.json``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import FieldError, InputFileError
from .vector.layers import fields_present, first_field
from .vector.naming import text_fields

__all__ = ["KEY_FLAG_FIELDS", "TRUE_VALUES", "read_key_project_list", "key_project_flags"]

#: Usual flag fields of a government-project layer.
KEY_FLAG_FIELDS = ("重点工程", "是否重点工程", "重点项目", "是否重点项目", "key_project", "ZDGC", "SFZDGC")

#: Values of a flag field that mean "key project" (compared stripped, case-insensitive).
TRUE_VALUES = frozenset({"1", "true", "t", "yes", "y", "是", "√", "重点", "重点工程", "重点项目"})


def read_key_project_list(path) -> list[str]:
    """Names or 文号 of key projects from a text or CSV file.

    One entry per line; in a ``.csv`` every cell is an entry. Blank lines
    and lines starting with ``#`` are skipped. UTF-8 (with or without BOM),
    else GBK.

    Raises
    ------
    InputFileError
        If the file is missing, unreadable or lists nothing.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{path}: key-project list cannot be read ({exc.strerror}); "
                             "check --key-projects") from None
    for encoding in ("utf-8-sig", "gbk"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InputFileError(f"{path}: key-project list is neither UTF-8 nor GBK text; save it as UTF-8")
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        cells = line.split(",") if path.suffix.lower() == ".csv" else [line]
        entries.extend(c.strip().strip('"').strip() for c in cells)
    entries = [e for e in entries if e]
    if not entries:
        raise InputFileError(f"{path}: the key-project list is empty; one name or 文号 per line")
    return entries


def _truthy(value) -> bool:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    return str(value).strip().lower() in TRUE_VALUES


def key_project_flags(layer: pd.DataFrame, *, flag_field: str | None = None, listed=None,
                      path="") -> tuple[np.ndarray, dict]:
    """Which government-project features are key projects.

    Parameters
    ----------
    layer : DataFrame
        The government-project features.
    flag_field : str, optional
        The flag field; default: the first of :data:`KEY_FLAG_FIELDS` present.
    listed : sequence of str, optional
        Names or 文号 of key projects (see :func:`read_key_project_list`).
    path : str
        The layer's file, for messages.

    Returns
    -------
    flags : (k,) ndarray of bool
    record : dict
        ``rule`` (in words), ``flag_field``, ``listed``, ``matched`` and
        ``unmatched`` (list entries no feature carries), ``key_features``.

    Raises
    ------
    FieldError
        If ``flag_field`` is not a field of the layer.

    Examples
    --------
    >>> g = pd.DataFrame({"项目名称": ["A路", "B闸"], "重点工程": ["是", "否"]})
    >>> key_project_flags(g)[0].tolist()
    [True, False]
    >>> key_project_flags(g.drop(columns="重点工程"), listed=["B闸"])[0].tolist()
    [False, True]
    """
    n = len(layer)
    flags = np.zeros(n, bool)
    if flag_field is not None and flag_field not in layer.columns:
        raise FieldError(f"{path}: no key-project field {flag_field!r}; fields present: "
                         f"{fields_present(layer)}; fix --key-field")
    field = flag_field or first_field(layer.columns, KEY_FLAG_FIELDS)
    if field is not None:
        flags |= np.array([_truthy(v) for v in layer[field].tolist()], bool)
    listed = [str(e).strip() for e in (listed or [])]
    matched: set[str] = set()
    if listed:
        wanted = set(listed)
        for column in text_fields(layer):
            values = layer[column].map(lambda v: str(v).strip() if v is not None else "").to_numpy()
            hit = np.isin(values, list(wanted))
            flags |= hit
            matched.update(values[hit].tolist())
    parts = []
    if field is not None:
        parts.append(f"field {field} true ({'/'.join(sorted(TRUE_VALUES))})")
    if listed:
        parts.append(f"name or 文号 in the key-project list ({len(listed)} entries)")
    rule = " or ".join(parts) if parts else "none: no flag field and no list, no project is deducted"
    record = {"rule": rule, "flag_field": field or "", "listed": len(listed),
              "matched": sorted(matched), "unmatched": sorted(set(listed) - matched),
              "key_features": int(flags.sum())}
    return flags, record
