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

import datetime as dt
import getpass
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import InputFileError, WeipianError
from .backend import Backend, GeoPackageBackend, backend_for
from .matching import match_patches
from .schema import MIGRATIONS, PATCH_COLUMNS, SCHEMA_VERSION, create_statements
from .states import check_transition, normalise_state

__all__ = ["Ledger", "AddResult", "ConflictError", "who_am_i", "utc_now"]

log = logging.getLogger(__name__)

#: The note a repeat gets, by the state of the patch it repeats.
REPEAT_NOTES = {
    "疑似": "上期已下发未核查", "已核查": "上期已下发未整改", "立案": "上期已下发未整改",
    "整改中": "上期已下发未整改", "已整改": "上期已整改，图斑仍在，重新打开", "销项": "上期已销项，图斑仍在",
    "合法": "上期已判定合法", "不立案": "上期已核查不立案",
}

_TABLES = ("ledger_meta", "ledger_batches", "ledger_patches", "ledger_history")


class ConflictError(WeipianError):
    """A change based on a stale read: someone else changed the patch first."""


def who_am_i() -> str:
    """Who is making a change: ``WEIPIAN_USER``, else the login name."""
    try:
        return os.environ.get("WEIPIAN_USER") or getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def utc_now() -> str:
    """The time of a change: ISO 8601 in UTC, microseconds."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


@dataclass
class AddResult:
    """What ingesting one batch did."""

    batch: str
    new: int = 0
    repeats: int = 0
    reopened: list = field(default_factory=list)
    notes: dict = field(default_factory=dict)


class Ledger:
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
    def add_patches(self, frame: gpd.GeoDataFrame, *, batch: str, run_dir: str = "", before_image: str = "",
                    after_image: str = "", min_share: float = 0.3, max_distance: float = 10.0,
                    who: str | None = None) -> AddResult:
        """Ingest judged patches of one batch, matching them with earlier batches.

        Parameters
        ----------
        frame : GeoDataFrame
            Judged patches (``weipian judge``/``run`` output).
        batch : str
            The batch name (``2024Q2``); a batch is ingested once.
        run_dir, before_image, after_image : str
            Where the run and its images are, for reports and training export.
        min_share, max_distance : float
            Matching settings (see :func:`weipian.ledger.matching.match_patches`).
        who : str, optional

        Returns
        -------
        AddResult
        """
        who = who or who_am_i()
        if frame.crs is None:
            raise WeipianError("the patches have no CRS; give the patches.gpkg weipian wrote")
        twice = frame["patch_id"][frame["patch_id"].duplicated()].astype(str).unique().tolist()
        if twice:
            raise WeipianError(f"batch {batch}: patch ids given twice: {', '.join(twice[:5])}; "
                               "give the patches.gpkg weipian wrote (ids are unique there)")
        if self.conn is None:
            self.conn = self.backend.connect()
        result = AddResult(batch=batch)
        now = utc_now()
        with self.backend.transaction(self.conn):
            if self.pending:  # the first batch creates the ledger, in its CRS, in this transaction
                self._create(frame.crs)
                self._load_meta()
            frame = frame.to_crs(self.crs) if len(frame) else frame.set_crs(self.crs, allow_override=True)
            geoms = frame.geometry.to_numpy()
            if self._rows("SELECT batch FROM ledger_batches WHERE batch = ?", (batch,)):
                raise WeipianError(f"{self.location}: batch {batch} is already in the ledger; each batch is "
                                   "added once (see `weipian ledger report`)")
            clash = self._existing_ids(frame["patch_id"].astype(str).tolist())
            if clash:
                raise WeipianError(f"{self.location}: patch ids already in the ledger: "
                                   f"{', '.join(clash[:5])}{' …' if len(clash) > 5 else ''}; "
                                   "was this run added under another batch?")
            earlier = self._earlier(geoms, max_distance)
            matches = match_patches(geoms, earlier.geometry.to_numpy(), min_share=min_share,
                                    max_distance=max_distance, recency=earlier["rank"].to_numpy())
            rows, history = [], []
            reopen: dict[str, str] = {}
            for i, pid in enumerate(frame["patch_id"].astype(str)):
                j = matches.index[i]
                if j < 0:
                    state, repeat_of, note = "疑似", None, None
                    result.new += 1
                else:
                    root = earlier.iloc[j]
                    repeat_of = root["root"]
                    root_state = root["root_state"]
                    base = REPEAT_NOTES.get(root_state, "上期已下发")
                    state = "重复"
                    note = f"{base} (matches {root['patch_id']}, overlap {100 * matches.share[i]:.0f} %)"
                    result.repeats += 1
                    result.notes[base] = result.notes.get(base, 0) + 1
                    if root_state == "已整改":
                        reopen.setdefault(repeat_of, pid)
                rows.append(self._patch_row(frame.iloc[i], pid, batch, state, now, repeat_of, note))
                history.append((pid, now, who, "added", None, state, note))
            for root_id, pid in reopen.items():
                self._move(root_id, "整改中", who=who, now=now, action="reopened",
                           note=f"still present in batch {batch} as {pid}", check=False)
                result.reopened.append(root_id)
            dates = frame.get("after_date", pd.Series([""])).astype(str)
            befores = frame.get("before_date", pd.Series([""])).astype(str)
            self._run("INSERT INTO ledger_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (batch, befores.iloc[0] if len(befores) else "", dates.iloc[0] if len(dates) else "",
                       run_dir, before_image, after_image, len(frame), now, who))
            self._insert_patches(rows, geoms)
            self._run("INSERT INTO ledger_history (patch_id, at, who, action, from_state, to_state, note) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)", history, many=True)
        self.pending = False
        return result

    def add_run(self, outdir, *, min_share: float = 0.3, max_distance: float = 10.0,
                who: str | None = None) -> AddResult:
        """Ingest a ``weipian run`` output folder (``patches.gpkg`` and ``run.json``).

        See :meth:`add_patches` for the settings.
        """
        from ..workflows import read_patches

        outdir = Path(outdir)
        if not (outdir / "patches.gpkg").exists():
            raise InputFileError(f"{outdir}: no patches.gpkg here; give the folder `weipian run -o` wrote")
        frame = read_patches(outdir / "patches.gpkg")
        if "label" not in frame:
            raise InputFileError(f"{outdir / 'patches.gpkg'}: patches are not judged; run `weipian judge` "
                                 "or `weipian run` first")
        record = {}
        if (outdir / "run.json").exists():
            try:
                record = json.loads((outdir / "run.json").read_text(encoding="utf-8"))
            except ValueError as exc:
                raise InputFileError(f"{outdir / 'run.json'}: not valid JSON ({exc}); "
                                     "rerun the batch") from None
        inputs = record.get("inputs", {})
        batch = (record.get("judge") or {}).get("batch") or _batch_of_ids(frame["patch_id"])
        return self.add_patches(frame, batch=batch, run_dir=str(outdir.resolve()),
                                before_image=_abs(inputs.get("before", ""), outdir),
                                after_image=_abs(inputs.get("after", ""), outdir),
                                min_share=min_share, max_distance=max_distance, who=who)

    def _existing_ids(self, ids: list[str]) -> list[str]:
        out = []
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT patch_id FROM ledger_patches WHERE patch_id IN ({marks})"
            out += [r[0] for r in self._rows(sql, chunk)]
        return out

    def _earlier(self, geoms, reach: float) -> gpd.GeoDataFrame:
        """Earlier patches near the new ones, each with its case root and the root's state."""
        if len(geoms) == 0:
            return gpd.GeoDataFrame({"patch_id": [], "root": [], "root_state": [], "rank": []},
                                    geometry=[], crs=self.crs)
        x0, y0, x1, y1 = shapely.total_bounds(geoms)
        rows = self._rows(
            "SELECT p.patch_id, p.batch, p.state, COALESCE(p.repeat_of, p.patch_id), r.state, "
            f"b.after_date, {self.backend.geom_select('p.geom')} FROM ledger_patches p "
            "JOIN ledger_batches b ON b.batch = p.batch "
            "LEFT JOIN ledger_patches r ON r.patch_id = p.repeat_of "
            "WHERE p.maxx >= ? AND p.minx <= ? AND p.maxy >= ? AND p.miny <= ?",
            (x0 - reach, x1 + reach, y0 - reach, y1 + reach))
        frame = pd.DataFrame([r[:-1] for r in rows],
                             columns=["patch_id", "batch", "state", "root", "root_state", "after_date"])
        frame["root_state"] = frame["root_state"].where(frame["root_state"].notna(), frame["state"])
        frame["rank"] = pd.factorize(frame["after_date"].astype(str) + frame["batch"].astype(str),
                                     sort=True)[0] if len(frame) else []
        geometry = self.backend.geoms_from([r[-1] for r in rows]) if rows else []
        return gpd.GeoDataFrame(frame, geometry=list(geometry), crs=self.crs)

    def _patch_row(self, row, pid, batch, state, now, repeat_of, note) -> tuple:
        values = []
        for name, kind in PATCH_COLUMNS:
            v = row.get(name)
            if v is None or (isinstance(v, float) and np.isnan(v)):
                values.append(None)
            elif kind == "REAL":
                values.append(float(v))
            elif kind == "INTEGER":
                values.append(int(bool(v)))
            else:
                values.append(str(v))
        return (pid, batch, *values, state, now, repeat_of, note)

    def _insert_patches(self, rows: list, geoms) -> None:
        if not rows:
            return
        bounds = shapely.bounds(np.asarray(geoms, dtype=object))
        blobs = self.backend.geom_values(np.asarray(geoms, dtype=object))
        names = ["patch_id", "batch", *(c for c, _ in PATCH_COLUMNS), "state", "state_since", "repeat_of",
                 "match_note", "minx", "miny", "maxx", "maxy", "geom"]
        marks = ", ".join(["?"] * (len(names) - 1) + [self.backend.geom_placeholder()])
        params = [(*r, *map(float, bnd), blob) for r, bnd, blob in zip(rows, bounds, blobs)]
        self._run(f"INSERT INTO ledger_patches ({', '.join(names)}) VALUES ({marks})", params, many=True)

    # -- states ------------------------------------------------------------------------------------
    def _move(self, patch_id: str, state: str, *, who: str, now: str, action: str, note=None,
              check: bool = True, expected_version: int | None = None) -> int:
        """Change one patch's state inside the caller's transaction; returns its new version."""
        found = self._rows("SELECT state, version FROM ledger_patches WHERE patch_id = ?"
                           + self.backend.for_update, (patch_id,))
        if not found:
            raise WeipianError(f"{self.location}: no patch {patch_id!r} in the ledger; check the id "
                               "(ledger report lists them)")
        current, version = found[0]
        if expected_version is not None and version != expected_version:
            raise ConflictError(f"{patch_id}: changed by someone else since it was read (version "
                                f"{expected_version}, now {version}: {current}); read it again")
        if check:
            check_transition(patch_id, current, state)
        updated = self._run("UPDATE ledger_patches SET state = ?, state_since = ?, version = version + 1 "
                            "WHERE patch_id = ? AND version = ?", (state, now, patch_id, version))
        if updated.rowcount != 1:  # cannot happen under the row lock; refuse rather than lose it
            raise ConflictError(f"{patch_id}: changed by someone else during this change; try again")
        self._run("INSERT INTO ledger_history (patch_id, at, who, action, from_state, to_state, note) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?)", (patch_id, now, who, action, current, state, note))
        return version + 1

    def set_state(self, patch_ids, state: str, *, who: str | None = None, note: str | None = None,
                  expected_version: int | None = None) -> dict[str, int]:
        """Move patches to ``state``, all or none, each change timestamped with who made it.

        Parameters
        ----------
        patch_ids : str or list of str
        state : str
            A state of :data:`weipian.ledger.states.STATES` or its English alias.
        who : str, optional
            Default :func:`who_am_i`.
        note : str, optional
        expected_version : int, optional
            The version the caller read (one patch only): the change is
            refused with :class:`ConflictError` if the patch changed since.

        Returns
        -------
        dict
            Patch id to its new version.

        Raises
        ------
        weipian.ledger.states.TransitionError
            If a move is not allowed (the message names the allowed ones).
        ConflictError, WeipianError
        """
        self._require()
        ids = [patch_ids] if isinstance(patch_ids, str) else list(patch_ids)
        state = normalise_state(state)
        who = who or who_am_i()
        now = utc_now()
        out = {}
        with self.backend.transaction(self.conn):
            for pid in ids:
                out[pid] = self._move(pid, state, who=who, now=now, action="state", note=note,
                                      expected_version=expected_version)
        return out

    def state_of(self, patch_id: str) -> tuple[str, int]:
        """``(state, version)`` of one patch."""
        self._require()
        rows = self._rows("SELECT state, version FROM ledger_patches WHERE patch_id = ?", (patch_id,))
        if not rows:
            raise WeipianError(f"{self.location}: no patch {patch_id!r} in the ledger")
        return rows[0][0], int(rows[0][1])

    # -- field outcomes ----------------------------------------------------------------------------
    def record_outcomes(self, outcomes: pd.DataFrame, *, who: str | None = None, source: str = "") -> int:
        """Record checked field outcomes (see :func:`weipian.ledger.outcomes.read_outcomes`).

        One transaction: patches still 疑似 become 已核查; every patch gets
        its outcome, 举证 category, photos, who and when.

        Returns
        -------
        int
            Patches updated.
        """
        self._require()
        who = who or who_am_i()
        now = utc_now()
        with self.backend.transaction(self.conn):
            ids = outcomes["patch_id"].tolist()
            unknown = sorted(set(ids) - set(self._existing_ids(ids)))
            if unknown:
                raise WeipianError(f"{source}: patch ids not in the ledger: {', '.join(unknown[:10])}"
                                   f"{' …' if len(unknown) > 10 else ''} ({len(unknown)}); nothing imported")
            for row in outcomes.itertuples(index=False):
                state, _ = self._rows("SELECT state, version FROM ledger_patches WHERE patch_id = ?"
                                      + self.backend.for_update, (row.patch_id,))[0]
                self._run("UPDATE ledger_patches SET outcome = ?, outcome_category = ?, photos = ?, "
                          "verified_by = ?, verified_at = ?, version = version + 1 WHERE patch_id = ?",
                          (row.outcome, row.category, row.photos, row.verified_by or who,
                           row.verified_at or now, row.patch_id))
                note = f"{row.outcome}" + (f", {row.category}" if row.category else "") + (
                    f", photos {row.photos}" if row.photos else "") + f" ({source})"
                if state == "疑似":
                    self._move(row.patch_id, "已核查", who=who, now=now, action="verified", note=note)
                else:
                    self._run("INSERT INTO ledger_history (patch_id, at, who, action, from_state, to_state, "
                              "note) VALUES (?, ?, ?, ?, ?, ?, ?)",
                              (row.patch_id, now, who, "verified", state, state, note))
        return len(outcomes)


def _batch_of_ids(ids) -> str:
    """The batch part of weipian patch ids ``<admin6>-<batch>-<serial>``."""
    parts = {str(p).split("-")[1] for p in ids if str(p).count("-") >= 2}
    if len(parts) != 1:
        raise InputFileError("the patches carry no single batch in their ids and run.json names none; "
                             "rerun with weipian run")
    return parts.pop()


def _abs(path: str, base: Path) -> str:
    """An image path from run.json made absolute: as given, else from here, else from the run folder."""
    if not path:
        return ""
    p = Path(path)
    if p.is_absolute():
        return str(p)
    for root in (Path.cwd(), base, base.parent):
        if (root / p).exists():
            return str((root / p).resolve())
    return str((Path.cwd() / p).resolve())
