"""Who made a change to the ledger and when."""

from __future__ import annotations

import datetime as dt
import getpass
import os

__all__ = ["who_am_i", "utc_now"]


def who_am_i() -> str:
    """Who is making a change: ``WEIPIAN_USER``, else the login name."""
    try:
        return os.environ.get("WEIPIAN_USER") or getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def utc_now() -> str:
    """The time of a change: ISO 8601 in UTC, microseconds."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
