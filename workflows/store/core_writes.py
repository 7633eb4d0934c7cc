"""ORM objects for rows a Core INSERT wrote, as the unit of work would have left them (issue 19).

The unit of work's flush of one new row costs about twice its INSERT: a hot handler (dunning.open_case, once
per dunning case start) inserts with Core and hands the session the object here, persistent as if loaded,
so the step's next handlers read it by key without a query and change it through the unit of work.

What the unit of work does for its own new objects is kept: when the (nested) transaction the row was
inserted in is rolled back, the row is gone, and so is the object from the session (expunged, as the ORM
expunges the objects it inserted there). Without that, SQLite would hand the next insert the same id, and
the session would hold a stale object under it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, make_transient_to_detached

_INSERTED = "core_inserted_rows"  # session.info: [(transaction inserted in, object), ...]


def persistent_as_inserted(session: Session, obj: Any) -> None:
    """Make `obj` (every column set, its primary key the inserted row's) the session's persistent object of
    the row just inserted in the session's current transaction."""
    make_transient_to_detached(obj)
    session.add(obj)
    inserted_in = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_INSERTED, []).append((inserted_in, obj))


def _within(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, rolled_back: SessionTransaction) -> None:
    rows = session.info.get(_INSERTED)
    if not rows:
        return
    kept = []
    for inserted_in, obj in rows:
        if not _within(inserted_in, rolled_back):
            kept.append((inserted_in, obj))
        elif obj in session:
            session.expunge(obj)
    session.info[_INSERTED] = kept


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    # Fired for a released savepoint too (the session is still in it then): its rows are only stored once the
    # outermost transaction commits; until then a rollback of an enclosing one takes them.
    if not session.in_nested_transaction():
        session.info.pop(_INSERTED, None)
