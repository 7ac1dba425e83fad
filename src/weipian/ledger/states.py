"""The life of a patch in the ledger: its states and the moves between them.

A new patch starts as 疑似 (suspected). Field verification makes it 已核查;
an illegal one is filed as a case (立案), rectified (整改中 → 已整改) and
closed (销项); a legal one, or one not worth a case, ends as 合法 or 不立案.
A patch of a later batch that matches an earlier one is a repeat (重复) of
it, not a new case. A patch marked 已整改 that a later batch still shows is
reopened (已整改 → 整改中).

States are the Chinese words a bureau uses; the English aliases of
:data:`ALIASES` are accepted wherever a state is typed.
"""

from __future__ import annotations

from ..errors import WeipianError

__all__ = ["STATES", "TRANSITIONS", "ALIASES", "OPEN_STATES", "RECTIFIED_STATES", "FILED_STATES",
           "normalise_state", "check_transition", "TransitionError"]

#: Every state, in workflow order.
STATES = ("疑似", "已核查", "立案", "整改中", "已整改", "销项", "合法", "不立案", "重复")

#: English names accepted for each state.
ALIASES = {
    "suspected": "疑似", "verified": "已核查", "filed": "立案", "rectifying": "整改中",
    "rectified": "已整改", "closed": "销项", "legal": "合法", "not_filed": "不立案", "repeat": "重复",
}

#: Allowed moves: state -> states it may move to.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "疑似": ("已核查", "合法", "不立案"),
    "已核查": ("立案", "合法", "不立案"),
    "立案": ("整改中",),
    "整改中": ("已整改",),
    "已整改": ("销项", "整改中"),
    "销项": (),
    "合法": (),
    "不立案": (),
    "重复": (),
}

#: States of a patch still being worked on.
OPEN_STATES = ("疑似", "已核查", "立案", "整改中")

#: Filed cases (the denominator of 整改率) and the rectified ones (its numerator).
FILED_STATES = ("立案", "整改中", "已整改", "销项")
RECTIFIED_STATES = ("已整改", "销项")


class TransitionError(WeipianError):
    """A state change the workflow does not allow."""


def normalise_state(state: str) -> str:
    """The Chinese state for ``state`` (Chinese or an English alias).

    Raises
    ------
    WeipianError
        If ``state`` is not a state.

    Examples
    --------
    >>> normalise_state("rectified"), normalise_state("立案")
    ('已整改', '立案')
    """
    text = str(state).strip()
    if text in STATES:
        return text
    if text.lower() in ALIASES:
        return ALIASES[text.lower()]
    raise WeipianError(f"unknown state {state!r}; use one of {', '.join(STATES)} "
                       f"(or {', '.join(ALIASES)})")


def check_transition(patch_id: str, current: str, new: str) -> None:
    """Refuse a move the workflow does not allow, naming the allowed ones.

    Raises
    ------
    TransitionError

    Examples
    --------
    >>> check_transition("p1", "疑似", "已核查")
    >>> check_transition("p1", "立案", "销项")
    Traceback (most recent call last):
    ...
    weipian.ledger.states.TransitionError: p1: cannot go from 立案 to 销项; allowed from 立案: 整改中
    """
    allowed = TRANSITIONS[current]
    if new not in allowed:
        listed = ", ".join(allowed) if allowed else f"none ({current} is final)"
        raise TransitionError(f"{patch_id}: cannot go from {current} to {new}; allowed from {current}: "
                              f"{listed}")
