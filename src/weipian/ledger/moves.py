"""State changes and field outcomes of ledger patches, one transaction each, no lost update.

:class:`Moves` is a part of :class:`weipian.ledger.Ledger`; it uses the
ledger's connection and back end.
"""

from __future__ import annotations

import pandas as pd

from ..errors import WeipianError
from .stamps import utc_now, who_am_i
from .states import check_transition, normalise_state

__all__ = ["Moves", "ConflictError"]


class ConflictError(WeipianError):
    """A change based on a stale read: someone else changed the patch first."""


class Moves:
    """Moving patches between states and recording outcomes (mixed into :class:`weipian.ledger.Ledger`)."""

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
