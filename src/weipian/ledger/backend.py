"""Where the ledger lives: one GeoPackage file, or a PostgreSQL + PostGIS database.

Both back ends run the same SQL (written with ``?`` placeholders; the
PostGIS back end turns them into ``%s``) inside one transaction per command,
so a command killed at any point leaves the state before or after it, never
between. They differ only in what :class:`Backend` hides: how a transaction
starts and locks, how geometries go in and come out, and the DDL types.

* :class:`GeoPackageBackend` — Python's ``sqlite3`` on a GeoPackage file
  (the tables are GeoPackage feature and attribute tables that QGIS opens);
  a write transaction is ``BEGIN IMMEDIATE``: writers queue, readers go on.
* :class:`PostGISBackend` — ``psycopg`` (``pip install 'weipian[postgis]'``);
  rows being changed are locked with ``SELECT ... FOR UPDATE``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

from ..errors import InputFileError, WeipianError
from .gpkg import GPKG_CORE_DDL, from_gpkg_blobs, gpkg_srs_row, to_gpkg_blobs

__all__ = ["Backend", "GeoPackageBackend", "PostGISBackend", "backend_for"]


class Backend:
    """What differs between the back ends (see the module docstring)."""

    kind = ""
    #: DDL fragments: ``pk`` (auto-increment key), ``geom`` (geometry column type).
    types: dict = {}
    #: Appended to a SELECT that reads rows about to be changed.
    for_update = ""

    def __init__(self, location: str):
        self.location = location
        self.srid: int | None = None

    # -- connections and transactions -------------------------------------------------------
    def connect(self):
        """A new connection (autocommit; transactions are explicit)."""
        raise NotImplementedError  # pragma: no cover

    def sql(self, statement: str) -> str:
        """``statement`` in this back end's placeholder style."""
        return statement

    @contextlib.contextmanager
    def transaction(self, conn):
        """One write transaction: committed whole, or rolled back whole."""
        raise NotImplementedError  # pragma: no cover

    # -- geometries --------------------------------------------------------------------------
    def geom_values(self, geoms) -> list:
        """Parameters that store ``geoms`` in the geometry column."""
        raise NotImplementedError  # pragma: no cover

    def geom_placeholder(self) -> str:
        """The SQL placeholder of a geometry parameter."""
        return "?"

    def geom_select(self, column: str = "geom") -> str:
        """SQL selecting a geometry column as GeoPackage blob or WKB."""
        return column

    def geoms_from(self, values):
        """Shapely geometries of what :meth:`geom_select` returned."""
        return from_gpkg_blobs(values)

    def register_srs(self, conn, crs) -> None:
        """Record the ledger CRS (GeoPackage: ``gpkg_spatial_ref_sys``)."""

    def backup(self, conn, version: int) -> str:
        """Copy the ledger aside before a migration; returns where."""
        raise NotImplementedError  # pragma: no cover

    def table_exists(self, conn, name: str) -> bool:
        """Whether the ledger table ``name`` exists."""
        raise NotImplementedError  # pragma: no cover


class GeoPackageBackend(Backend):
    """A ledger in one GeoPackage (SQLite) file."""

    kind = "gpkg"
    types = {"pk": "INTEGER PRIMARY KEY AUTOINCREMENT", "geom": "GEOMETRY"}

    def __init__(self, location: str):
        super().__init__(location)
        self.path = Path(location)

    def connect(self):
        """A new connection (autocommit; transactions are explicit)."""
        if self.path.parent and not self.path.parent.exists():
            raise InputFileError(f"{self.path}: its folder does not exist; create it or give another "
                                 "--ledger path")
        try:
            conn = sqlite3.connect(self.path, timeout=120, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 120000")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise InputFileError(f"{self.path}: not a ledger GeoPackage ({exc}); give the ledger file "
                                 "weipian created, or a new path") from None
        return conn

    @contextlib.contextmanager
    def transaction(self, conn):
        """One write transaction: committed whole, or rolled back whole."""
        for attempt in range(50):
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:  # "database is locked" past the busy timeout
                if "locked" not in str(exc) or attempt == 49:
                    raise WeipianError(f"{self.path}: the ledger stayed locked by another writer "
                                       f"({exc}); try again") from None
                time.sleep(0.05)
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def geom_values(self, geoms) -> list:
        """Parameters that store ``geoms`` in the geometry column."""
        return to_gpkg_blobs(geoms, self.srid or 0)

    def register_srs(self, conn, crs) -> None:
        """Record the ledger CRS (GeoPackage: ``gpkg_spatial_ref_sys``)."""
        for statement in GPKG_CORE_DDL:
            conn.execute(statement)
        conn.execute("PRAGMA application_id = 1196444487")  # 'GPKG'
        conn.execute("PRAGMA user_version = 10300")
        row = gpkg_srs_row(crs)
        conn.execute("INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", row)
        self.srid = row[1]

    def register_tables(self, conn, feature_table: str, attribute_tables) -> None:
        """Make the tables GeoPackage layers (QGIS and GDAL list them)."""
        conn.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, srs_id) "
                     "VALUES (?, 'features', ?, ?)", (feature_table, feature_table, self.srid))
        conn.execute("INSERT OR IGNORE INTO gpkg_geometry_columns VALUES (?, 'geom', 'GEOMETRY', ?, 0, 0)",
                     (feature_table, self.srid))
        for table in attribute_tables:
            conn.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier) "
                         "VALUES (?, 'attributes', ?)", (table, table))

    def table_exists(self, conn, name: str) -> bool:
        """Whether the ledger table ``name`` exists."""
        return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                            (name,)).fetchone() is not None

    def backup(self, conn, version: int) -> str:
        """Copy the whole file beside itself before a migration; returns the copy's path."""
        stamp = time.strftime("%Y%m%dT%H%M%S")
        target = self.path.with_name(f"{self.path.stem}.schema{version}-backup-{stamp}{self.path.suffix}")
        dest = sqlite3.connect(target)
        try:
            conn.backup(dest)
        finally:
            dest.close()
        return str(target)


class PostGISBackend(Backend):
    """A ledger in a PostgreSQL + PostGIS database shared by several analysts."""

    kind = "postgis"
    types = {"pk": "BIGSERIAL PRIMARY KEY", "geom": "geometry"}
    for_update = " FOR UPDATE"

    def connect(self):
        """A new connection (autocommit; transactions are explicit)."""
        try:
            import psycopg
        except ImportError:
            raise WeipianError("a PostGIS ledger needs psycopg; pip install 'weipian[postgis]'") from None
        try:
            conn = psycopg.connect(self.location, autocommit=True)
        except psycopg.Error as exc:
            raise WeipianError(f"{_safe_url(self.location)}: cannot connect to the ledger database "
                               f"({str(exc).strip().splitlines()[0]}); check --ledger") from None
        if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone() is None:
            try:
                conn.execute("CREATE EXTENSION postgis")
            except psycopg.Error as exc:
                conn.close()
                raise WeipianError(f"{_safe_url(self.location)}: PostGIS is not enabled in this database "
                                   f"and cannot be ({str(exc).strip().splitlines()[0]}); ask its owner to "
                                   "run CREATE EXTENSION postgis") from None
        return conn

    def sql(self, statement: str) -> str:
        """``statement`` in this back end's placeholder style."""
        return statement.replace("?", "%s")

    @contextlib.contextmanager
    def transaction(self, conn):
        """One write transaction: committed whole, or rolled back whole."""
        with conn.transaction():
            yield conn

    def geom_values(self, geoms) -> list:
        """Parameters that store ``geoms`` in the geometry column."""
        import shapely

        return list(shapely.to_wkb(geoms, byte_order=1))

    def geom_placeholder(self) -> str:
        """The SQL placeholder of a geometry parameter."""
        return f"ST_GeomFromWKB(?, {int(self.srid or 0)})"

    def geom_select(self, column: str = "geom") -> str:
        """SQL selecting a geometry column as GeoPackage blob or WKB."""
        return f"ST_AsBinary({column})"

    def register_srs(self, conn, crs) -> None:
        """Record the ledger CRS (GeoPackage: ``gpkg_spatial_ref_sys``)."""
        self.srid = gpkg_srs_row(crs)[1]

    def table_exists(self, conn, name: str) -> bool:
        """Whether the ledger table ``name`` exists."""
        return conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()[0] is not None

    def backup(self, conn, version: int) -> str:
        """Copy the ledger tables into a schema of their own before a migration; returns its name."""
        schema = f"weipian_backup_schema{version}_{time.strftime('%Y%m%dT%H%M%S')}"
        conn.execute(f"CREATE SCHEMA {schema}")
        for table in ("ledger_meta", "ledger_batches", "ledger_patches", "ledger_history"):
            if self.table_exists(conn, table):
                conn.execute(f"CREATE TABLE {schema}.{table} AS TABLE public.{table}")
        return schema


def _safe_url(url: str) -> str:
    """A connection string without its password, for messages."""
    import re

    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def backend_for(location) -> Backend:
    """The back end for ``--ledger``: ``postgresql://…`` (or ``postgres://``) or a GeoPackage path."""
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")) or text.startswith("dbname="):
        return PostGISBackend(text)
    return GeoPackageBackend(text)
