"""The ledger (图斑台账): every patch of every batch, its state and its history.

:class:`Ledger` is the one object that reads and writes a ledger, on either
back end (:mod:`weipian.ledger.backend`). Every public method that changes
something is one transaction: killed at any point, the ledger holds the
state before or after it. Concurrent writers lose no update: every state
change reads the row under a write lock (``BEGIN IMMEDIATE`` on a
GeoPackage, ``SELECT … FOR UPDATE`` on PostGIS) and bumps its ``version``;
:meth:`Ledger.set_state` with ``expected_version`` refuses a change made on
a stale read.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputFileError, WeipianError
from .backend import Backend, GeoPackageBackend, backend_for
from .ingest import AddResult, Ingest
from .moves import ConflictError, Moves
from .schema import MIGRATIONS, PATCH_COLUMNS, SCHEMA_VERSION, create_statements
from .stamps import utc_now, who_am_i

__all__ = ["Ledger", "AddResult", "ConflictError", "who_am_i", "utc_now"]

log = logging.getLogger(__name__)

_TABLES = ("ledger_meta", "ledger_batches", "ledger_patches", "ledger_history")


class Ledger(Ingest, Moves):
    """A patch ledger on a GeoPackage file or a PostGIS database.

    Parameters
    ----------
    location : str or Path
        A GeoPackage path (created on the first :meth:`add_run`) or a
        ``postgresql://user@host/db`` URL.
    crs : CRS-like, optional
        Create an empty ledger in this CRS now. Without it, a ledger that
        does not exist yet is created by the first :meth:`add_run` or
        :meth:`add_patches`, in that batch's CRS and in the same transaction;
        until then every other method says there is no ledger. An existing
        ledger keeps its own CRS.

    Raises
    ------
    WeipianError
        If the ledger was written by a newer weipian, or is not a ledger.

    Examples
    --------
    A ledger that does not exist yet is made by its first batch::

        with Ledger("ledger.gpkg") as ledger:
            ledger.add_run("out/2024Q2")
            ledger.set_state("440305-2024Q2-000007", "已核查", who="李工")
    """

    def __init__(self, location, *, crs=None):
        self.backend: Backend = backend_for(location)
        self.location = str(location)
        self.migrated_from: int | None = None
        self.backup: str | None = None
        self.crs: str | None = None
        self.conn = None
        #: No ledger at ``location`` yet: the first add creates it, in the same transaction.
        self.pending = False
        if isinstance(self.backend, GeoPackageBackend) and not Path(location).exists() and crs is None:
            self.pending = True  # no file is made until a batch is added
            return
        self.conn = self.backend.connect()
        try:
            self._open(crs)
        except BaseException:
            self.conn.close()
            raise

    # -- opening, creating, migrating --------------------------------------------------------------
    def _open(self, crs) -> None:
        b = self.backend
        if not b.table_exists(self.conn, "ledger_meta"):
            if crs is None:
                self.pending = True
                return
            with b.transaction(self.conn):
                if not b.table_exists(self.conn, "ledger_meta"):  # another process may have won
                    self._create(crs)
        self._load_meta()

    def _load_meta(self) -> None:
        meta = dict(self._rows("SELECT key, value FROM ledger_meta"))
        self.backend.srid = int(meta["srid"])
        self.crs = f"EPSG:{self.backend.srid}"
        version = int(meta["schema_version"])
        if version > SCHEMA_VERSION:
            raise WeipianError(f"{self.location}: ledger schema {version} was written by a newer weipian "
                               f"(this one reads up to {SCHEMA_VERSION}); upgrade weipian")
        if version < SCHEMA_VERSION:
            self._migrate(version)

    def _require(self) -> None:
        """Refuse to read or change a ledger that does not exist yet."""
        if self.pending:
            raise InputFileError(f"{self.location}: no ledger here yet; start one with "
                                 f"`weipian ledger add OUTDIR --ledger {self.location}`")

    def _create(self, crs) -> None:
        b = self.backend
        try:
            b.register_srs(self.conn, crs)
        except ValueError as exc:
            raise WeipianError(f"{self.location}: {exc}; reproject the patches to a CGCS2000 "
                               "Gauss-Krüger zone (EPSG:4513-4554) first") from None
        for statement in create_statements(b.types):
            self.conn.execute(statement)
        if isinstance(b, GeoPackageBackend):
            b.register_tables(self.conn, "ledger_patches",
                              ("ledger_meta", "ledger_batches", "ledger_history"))
        else:  # PostGIS: a spatial index for QGIS and SQL users (the ledger itself uses the bounds)
            self.conn.execute("CREATE INDEX ledger_patches_geom ON ledger_patches USING GIST (geom)")
        self._run("INSERT INTO ledger_meta (key, value) VALUES (?, ?)",
                  [("schema_version", str(SCHEMA_VERSION)), ("srid", str(b.srid)),
                   ("created_at", utc_now()), ("created_by", who_am_i())], many=True)

    def _migrate(self, version: int) -> None:
        """Bring an older ledger to :data:`SCHEMA_VERSION`, after a backup copy."""
        self.backup = self.backend.backup(self.conn, version)
        log.warning("%s: ledger schema %d migrated to %d; the old ledger is kept in %s",
                    self.location, version, SCHEMA_VERSION, self.backup)
        with self.backend.transaction(self.conn):
            current = int(dict(self._rows("SELECT key, value FROM ledger_meta"))["schema_version"])
            while current < SCHEMA_VERSION:
                MIGRATIONS[current](lambda s: self.conn.execute(s))
                current += 1
            self._run("UPDATE ledger_meta SET value = ? WHERE key = 'schema_version'", (str(current),))
        self.migrated_from = version

    # -- small SQL helpers -------------------------------------------------------------------------
    def _run(self, statement: str, params=(), *, many: bool = False):
        sql = self.backend.sql(statement)
        if many:
            cur = self.conn.cursor()
            cur.executemany(sql, params)
            return cur
        return self.conn.execute(sql, params)

    def _rows(self, statement: str, params=()) -> list:
        return list(self._run(statement, params).fetchall())

    def close(self) -> None:
        """Close the connection."""
        if self.conn is not None:
            self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- reading -----------------------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        """The schema version of the ledger (after any migration)."""
        self._require()
        return int(dict(self._rows("SELECT key, value FROM ledger_meta"))["schema_version"])

    def batches(self) -> pd.DataFrame:
        """One row per ingested batch, oldest first."""
        self._require()
        cols = ("batch", "before_date", "after_date", "run_dir", "before_image", "after_image", "patches",
                "added_at", "added_by")
        rows = self._rows(f"SELECT {', '.join(cols)} FROM ledger_batches ORDER BY after_date, batch")
        return pd.DataFrame(rows, columns=list(cols))

    def patches(self, *, batch: str | None = None, bbox=None) -> gpd.GeoDataFrame:
        """Patches (all, one batch's, or those whose bounds meet ``bbox``), in the ledger CRS.

        Returns
        -------
        GeoDataFrame
            ``patch_id``, ``batch``, the attribute columns, ``state``,
            ``state_since``, ``version``, ``repeat_of``, ``match_note``,
            ``outcome``, ``outcome_category``, ``photos``, ``verified_by``,
            ``verified_at``, and the geometry.
        """
        self._require()
        cols = ["patch_id", "batch", *(c for c, _ in PATCH_COLUMNS), "state", "state_since", "version",
                "repeat_of", "match_note", "outcome", "outcome_category", "photos", "verified_by",
                "verified_at"]
        where, params = [], []
        if batch is not None:
            where.append("batch = ?")
            params.append(batch)
        if bbox is not None:
            where.append("maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?")
            params.extend([bbox[0], bbox[2], bbox[1], bbox[3]])
        sql = (f"SELECT {', '.join(cols)}, {self.backend.geom_select()} FROM ledger_patches"
               + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY fid")
        rows = self._rows(sql, params)
        frame = pd.DataFrame([r[:-1] for r in rows], columns=cols)
        geoms = self.backend.geoms_from([r[-1] for r in rows]) if rows else np.zeros(0, object)
        frame["key_project"] = frame["key_project"].fillna(0).astype(bool)
        return gpd.GeoDataFrame(frame, geometry=list(geoms), crs=self.crs)

    def history(self, patch_id: str | None = None) -> pd.DataFrame:
        """Every change (of one patch, or all), in order."""
        self._require()
        cols = ("id", "patch_id", "at", "who", "action", "from_state", "to_state", "note")
        sql = f"SELECT {', '.join(cols)} FROM ledger_history"
        params = ()
        if patch_id is not None:
            sql += " WHERE patch_id = ?"
            params = (patch_id,)
        return pd.DataFrame(self._rows(sql + " ORDER BY id", params), columns=list(cols))

    # -- ingesting a batch -------------------------------------------------------------------------
