"""The patch ledger (图斑台账): patches tracked across quarterly batches.

=====================  ============================================================
module                 concept
=====================  ============================================================
``states``             the states of a patch and the moves between them (pure)
``matching``           which earlier patch a new one is (pure, shapely)
``outcomes``           reading and checking field-verification exports
``schema``             the tables, schema version and migrations
``gpkg``               GeoPackage geometry blobs and core tables
``backend``            GeoPackage (sqlite3) and PostGIS (psycopg) back ends
``store``              :class:`Ledger`: ingest, verify, move, read — one transaction each
``report``             per township and batch: states, 整改率, 违法占耕比, worst ten,
                       expired temporary use, overdue patches (XLSX + HTML)
``training``           verified patches as training samples for ``weipian train``
=====================  ============================================================

A notebook's use of it::

    from weipian.ledger import Ledger, write_ledger_report

    with Ledger("台账.gpkg") as ledger:       # created by the first batch added
        ledger.add_run("out/2024Q2")
        ledger.set_state("440305-2024Q2-000007", "已核查", who="李工")
        write_ledger_report(ledger, "out/ledger-report")
"""

from .outcomes import read_outcomes
from .report import ledger_tables, write_ledger_report
from .states import STATES, TRANSITIONS, TransitionError
from .store import AddResult, ConflictError, Ledger
from .training import export_training

__all__ = ["Ledger", "AddResult", "ConflictError", "TransitionError", "STATES", "TRANSITIONS",
           "read_outcomes", "ledger_tables", "write_ledger_report", "export_training"]
