"""Ingest of a batch into the ledger: new patches, repeats of earlier ones, reopened cases.

A run with farmland use (``weipian run --farmland-use``) brings its 非粮化
parcels too: each becomes a ledger entry with label ``non_grain`` and id
``<township code>-<batch>-F<parcel id>``, tracked to 整改/销项 as a patch is.
Entries are matched with earlier ones of their own kind only (a 非粮化 parcel
with earlier 非粮化 parcels, a construction patch with earlier patches).

:class:`Ingest` is a part of :class:`weipian.ledger.Ledger`; it uses the
ledger's connection and back end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import InputFileError, WeipianError
from .matching import match_patches
from .schema import PATCH_COLUMNS
from .stamps import utc_now, who_am_i

__all__ = ["Ingest", "AddResult", "REPEAT_NOTES", "parcel_entries", "NON_GRAIN"]

#: Ledger label of 非粮化 parcel entries.
NON_GRAIN = "non_grain"

#: The note a repeat gets, by the state of the patch it repeats.
REPEAT_NOTES = {
    "疑似": "上期已下发未核查", "已核查": "上期已下发未整改", "立案": "上期已下发未整改",
    "整改中": "上期已下发未整改", "已整改": "上期已整改，图斑仍在，重新打开", "销项": "上期已销项，图斑仍在",
    "合法": "上期已判定合法", "不立案": "上期已核查不立案",
}


@dataclass
class AddResult:
    """What ingesting one batch did."""

    batch: str
    new: int = 0
    repeats: int = 0
    reopened: list = field(default_factory=list)
    notes: dict = field(default_factory=dict)


class Ingest:
    """Adding batches to a ledger (mixed into :class:`weipian.ledger.Ledger`)."""

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
            self._check_new(frame, batch)
            earlier = self._earlier(geoms, max_distance)
            matches = _match_by_kind(frame, geoms, earlier, min_share=min_share, max_distance=max_distance)
            rows, history, reopen = self._new_rows(frame, earlier, matches, batch=batch, now=now, who=who,
                                                   result=result)
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
        if (outdir / "parcels.gpkg").exists():
            parcels = gpd.read_file(outdir / "parcels.gpkg", layer="parcels", engine="pyogrio")
            entries = parcel_entries(parcels, batch)
            if len(entries):
                entries = entries.to_crs(frame.crs) if frame.crs is not None else entries
                frame = gpd.GeoDataFrame(pd.concat([frame, entries], ignore_index=True), crs=frame.crs)
        return self.add_patches(frame, batch=batch, run_dir=str(outdir.resolve()),
                                before_image=_abs(inputs.get("before", ""), outdir),
                                after_image=_abs(inputs.get("after", ""), outdir),
                                min_share=min_share, max_distance=max_distance, who=who)

    def _check_new(self, frame, batch: str) -> None:
        """Refuse a batch already in the ledger, or patch ids it already holds."""
        if self._rows("SELECT batch FROM ledger_batches WHERE batch = ?", (batch,)):
            raise WeipianError(f"{self.location}: batch {batch} is already in the ledger; each batch is "
                               "added once (see `weipian ledger report`)")
        clash = self._existing_ids(frame["patch_id"].astype(str).tolist())
        if clash:
            raise WeipianError(f"{self.location}: patch ids already in the ledger: "
                               f"{', '.join(clash[:5])}{' …' if len(clash) > 5 else ''}; "
                               "was this run added under another batch?")

    def _new_rows(self, frame, earlier, matches, *, batch: str, now: str, who: str, result: AddResult):
        """Ledger rows and history of a batch's patches: new (疑似) or repeats (重复) of a case.

        Returns the rows, the history entries and the cases to reopen (root id
        to the new patch that shows the case is still there); counts go to
        ``result``.
        """
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
        return rows, history, reopen

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
            return gpd.GeoDataFrame({"patch_id": [], "root": [], "root_state": [], "rank": [], "label": []},
                                    geometry=[], crs=self.crs)
        x0, y0, x1, y1 = shapely.total_bounds(geoms)
        rows = self._rows(
            "SELECT p.patch_id, p.batch, p.state, COALESCE(p.repeat_of, p.patch_id), r.state, "
            f"b.after_date, p.label, {self.backend.geom_select('p.geom')} FROM ledger_patches p "
            "JOIN ledger_batches b ON b.batch = p.batch "
            "LEFT JOIN ledger_patches r ON r.patch_id = p.repeat_of "
            "WHERE p.maxx >= ? AND p.minx <= ? AND p.maxy >= ? AND p.miny <= ?",
            (x0 - reach, x1 + reach, y0 - reach, y1 + reach))
        frame = pd.DataFrame([r[:-1] for r in rows],
                             columns=["patch_id", "batch", "state", "root", "root_state", "after_date",
                                      "label"])
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


def parcel_entries(parcels: gpd.GeoDataFrame, batch: str) -> gpd.GeoDataFrame:
    """The 非粮化 parcels of a batch as ledger entries (label ``non_grain``; 非农化 ones are patches already).

    Parameters
    ----------
    parcels : GeoDataFrame
        Layer ``parcels`` of ``parcels.gpkg`` (:func:`weipian.workflows.farmland.farmland_use`).
    batch : str

    Returns
    -------
    GeoDataFrame
        ``patch_id`` (``<township code>-<batch>-F<parcel id>``), ``label``,
        ``reason``, ``township``, ``township_code``, ``area_m2`` (the
        parcel), ``farmland_m2`` (the area of the new use), dates.
    """
    sel = parcels[parcels["state"] == NON_GRAIN] if "state" in parcels else parcels.iloc[:0]
    codes = sel.get("township_code", pd.Series([""] * len(sel), index=sel.index)).fillna("").astype(str)
    ids = [f"{c or '000000'}-{batch}-F{p}" for c, p in zip(codes, sel["parcel_id"].astype(str))]
    out = pd.DataFrame({"patch_id": ids, "label": NON_GRAIN, "reason": sel.get("reason", ""),
                        "evidence_category": "非粮化", "township": sel.get("township", ""),
                        "township_code": codes, "area_m2": sel.get("area_m2", np.nan),
                        "farmland_m2": sel.get("use_area_m2", np.nan),
                        "before_date": sel.get("before_date", ""), "after_date": sel.get("after_date", "")},
                       index=sel.index)
    return gpd.GeoDataFrame(out.reset_index(drop=True), geometry=sel.geometry.to_numpy(), crs=parcels.crs)


class _Matches:
    def __init__(self, n: int):
        self.index = np.full(n, -1, np.int64)
        self.share = np.zeros(n)


def _match_by_kind(frame, geoms, earlier, *, min_share: float, max_distance: float) -> _Matches:
    """Matches of new entries with earlier ones of the same kind (非粮化 parcels apart from patches)."""
    new_kind = (frame["label"] == NON_GRAIN).to_numpy() if "label" in frame else np.zeros(len(frame), bool)
    old_kind = (earlier["label"] == NON_GRAIN).to_numpy() if len(earlier) else np.zeros(0, bool)
    out = _Matches(len(frame))
    old_geoms = earlier.geometry.to_numpy()
    recency = earlier["rank"].to_numpy() if len(earlier) else np.zeros(0)
    for kind in (False, True):
        new, old = np.flatnonzero(new_kind == kind), np.flatnonzero(old_kind == kind)
        if not len(new):
            continue
        m = match_patches(geoms[new], old_geoms[old], min_share=min_share, max_distance=max_distance,
                          recency=recency[old])
        hit = m.index >= 0
        out.index[new[hit]] = old[m.index[hit]]
        out.share[new] = m.share
    return out


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
