"""The ledger's tables, its schema version and the migrations between versions.

==================  ==============================================================
table               holds
==================  ==============================================================
``ledger_meta``     ``schema_version``, the ledger CRS (``srid``), when created
``ledger_batches``  one row per ingested run: batch, dates, run folder, images
``ledger_patches``  one row per patch of every batch (geometry ``geom``), with its
                    state, the version used for optimistic concurrency, the patch
                    it repeats, and the field outcome
``ledger_history``  every change: patch, time (UTC), who, action, from, to, note
==================  ==============================================================

Schema 1 was the ledger of the development builds: no ``version`` column
(optimistic concurrency) and no photo and 举证-category columns on patches.
An older ledger is migrated when opened, after a backup copy
(:meth:`weipian.ledger.backend.Backend.backup`).
"""

from __future__ import annotations

__all__ = ["SCHEMA_VERSION", "PATCH_COLUMNS", "create_statements", "MIGRATIONS"]

#: The schema this weipian writes.
SCHEMA_VERSION = 2

#: Attribute columns of ``ledger_patches`` kept from the judged patches (name, SQL type).
PATCH_COLUMNS = (
    ("label", "TEXT"), ("reason", "TEXT"), ("evidence_category", "TEXT"), ("township", "TEXT"),
    ("township_code", "TEXT"), ("area_m2", "REAL"), ("farmland_m2", "REAL"),
    ("basic_farmland_m2", "REAL"), ("temporary_expired_m2", "REAL"), ("key_project", "INTEGER"),
    ("before_date", "TEXT"), ("after_date", "TEXT"),
)


def create_statements(types: dict, version: int = SCHEMA_VERSION) -> list[str]:
    """DDL of the ledger tables at schema ``version`` for a back end's ``types``."""
    pk, geom = types["pk"], types["geom"]
    attrs = ",\n        ".join(f"{name} {kind}" for name, kind in PATCH_COLUMNS)
    v2_columns = """,
        version INTEGER NOT NULL DEFAULT 1,
        photos TEXT, outcome_category TEXT""" if version >= 2 else ""
    return [
        "CREATE TABLE ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE ledger_batches (
        batch TEXT PRIMARY KEY, before_date TEXT, after_date TEXT, run_dir TEXT, before_image TEXT,
        after_image TEXT, patches INTEGER NOT NULL, added_at TEXT NOT NULL, added_by TEXT NOT NULL)""",
        f"""CREATE TABLE ledger_patches (
        fid {pk},
        patch_id TEXT NOT NULL UNIQUE,
        batch TEXT NOT NULL REFERENCES ledger_batches(batch),
        {attrs},
        state TEXT NOT NULL, state_since TEXT NOT NULL,
        repeat_of TEXT, match_note TEXT,
        outcome TEXT, verified_by TEXT, verified_at TEXT,
        minx REAL NOT NULL, miny REAL NOT NULL, maxx REAL NOT NULL, maxy REAL NOT NULL,
        geom {geom}{v2_columns})""",
        "CREATE INDEX ledger_patches_batch ON ledger_patches (batch)",
        "CREATE INDEX ledger_patches_minx ON ledger_patches (minx)",
        "CREATE INDEX ledger_patches_state ON ledger_patches (state)",
        f"""CREATE TABLE ledger_history (
        id {pk}, patch_id TEXT NOT NULL, at TEXT NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL,
        from_state TEXT, to_state TEXT, note TEXT)""",
        "CREATE INDEX ledger_history_patch ON ledger_history (patch_id)",
    ]


def _v1_to_v2(execute) -> None:
    execute("ALTER TABLE ledger_patches ADD COLUMN version INTEGER NOT NULL DEFAULT 1")
    execute("ALTER TABLE ledger_patches ADD COLUMN photos TEXT")
    execute("ALTER TABLE ledger_patches ADD COLUMN outcome_category TEXT")


#: Migrations: from-version -> function(execute) bringing the schema one version up.
MIGRATIONS = {1: _v1_to_v2}
