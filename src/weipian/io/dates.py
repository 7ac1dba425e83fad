"""Dates of epochs: parsed from text, spreadsheet serials and image tags."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np

from ..errors import (
    DateError,
)

__all__ = ["parse_date", "acquisition_date"]


_DATE_PATTERNS = [
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})"), None),
    (re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})"), None),
    (re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})"), None),
    (re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?"), None),
    (re.compile(r"^(\d{4}):(\d{2}):(\d{2})"), None),  # TIFFTAG_DATETIME
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), None),
]


def parse_date(value, *, source: str = "date") -> dt.date:
    """Parse a date as analysts type it.

    Accepts ISO ``2024-06-01``, ``2024/6/1``, ``2024.6.1``, ``2024年6月1日``,
    TIFF ``2024:06:01 10:00:00``, ``20240601``, Excel serial numbers
    (e.g. ``45444``), and :class:`datetime.date` / ``datetime`` objects.

    Parameters
    ----------
    value : str, int, float, date or datetime
    source : str
        What is being parsed, for the error message.

    Returns
    -------
    datetime.date

    Raises
    ------
    DateError
        If the value is not a date.

    Examples
    --------
    >>> parse_date("2024年6月1日")
    datetime.date(2024, 6, 1)
    >>> parse_date(45444)
    datetime.date(2024, 6, 1)
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        if np.isfinite(value) and 20000 < float(value) < 80000:
            return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
        raise DateError(f"{source}: {value!r} is not a date; write it as YYYY-MM-DD")
    text = str(value).strip()
    if re.fullmatch(r"\d{5}(\.0+)?", text):
        return parse_date(float(text), source=source)
    for pattern, _ in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            try:
                return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                break
    raise DateError(f"{source}: {text!r} is not a date; write it as YYYY-MM-DD (e.g. 2024-06-01)")


def acquisition_date(tags: dict) -> dt.date | None:
    """The acquisition date from GeoTIFF tags, if any.

    Looks at ``ACQUISITION_DATE`` and then ``TIFFTAG_DATETIME``.
    """
    for key in ("ACQUISITION_DATE", "acquisition_date", "TIFFTAG_DATETIME"):
        if tags.get(key):
            try:
                return parse_date(tags[key], source=key)
            except DateError:
                continue
    return None
