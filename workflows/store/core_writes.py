"""ORM objects for rows Core statements wrote, as the unit of work would have left them (issue 19).

The unit of work's flush of one new row costs about twice its INSERT, and of one changed column about five
times its UPDATE. The hot handlers of a dunning case start (open_case, current_grade, escalate, send_notice:
one insert and three updates of the case per start) write with Core and tell the session here: a new row's
object becomes persistent as if loaded (`persistent_as_inserted`), so the step's next handlers read it by
key without a query; a changed row's new values are set on its object as loaded (`update_as_loaded`), so
nothing is left for a flush to write.

What the unit of work does for its own writes is kept: when the (nested) transaction a row was written in
is rolled back, its object leaves the session if the row was inserted there (expunged, as the ORM expunges
the objects it inserted), and is expired if the row was changed there (as the ORM expires the objects it
flushed changes of), so the next read sees the row as it is again. Without that, SQLite would hand the
next insert the same id, and the session would hold a stale object under it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Table, bindparam, event, inspect, update
from sqlalchemy.orm import Session, SessionTransaction, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

_WRITTEN = "core_written_rows"  # session.info: [(transaction written in, object, inserted?), ...]


def persistent_as_inserted(session: Session, obj: Any) -> None:
    """Make `obj` (every column set, its primary key the inserted row's) the session's persistent object of
    the row just inserted in the session's current transaction."""
    make_transient_to_detached(obj)
    session.add(obj)
    _written(session, obj, inserted=True)


def update_as_loaded(session: Session, obj: Any, **values: Any) -> None:
    """Set the columns `values` of `obj`'s row (a persistent object whose primary key is `id`) with one
    Core UPDATE, and on `obj` as loaded: nothing for the unit of work to write. A change of the same column
    still pending in the unit of work is replaced by this one."""
    table = inspect(obj).mapper.local_table
    names = tuple(values)
    session.execute(_update_of(table, names), {"id_": obj.id, **{f"{n}_": v for n, v in values.items()}})
    for name, value in values.items():
        set_committed_value(obj, name, value)
    _written(session, obj, inserted=False)


@lru_cache(maxsize=64)
def _update_of(table: Table, names: tuple[str, ...]) -> Any:
    # Bound as name_: a bind named as its column is reserved for the SET clause's own.
    values: dict[str, Any] = {name: bindparam(f"{name}_") for name in names}
    return update(table).where(table.c.id == bindparam("id_")).values(values)


def _written(session: Session, obj: Any, *, inserted: bool) -> None:
    written_in = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_WRITTEN, []).append((written_in, obj, inserted))


def _within(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, rolled_back: SessionTransaction) -> None:
    rows = session.info.get(_WRITTEN)
    if not rows:
        return
    kept = []
    for written_in, obj, inserted in rows:
        if not _within(written_in, rolled_back):
            kept.append((written_in, obj, inserted))
        elif obj in session and inserted:
            session.expunge(obj)
        elif obj in session:
            session.expire(obj)
    session.info[_WRITTEN] = kept


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    # Fired for a released savepoint too (the session is still in it then): its rows are only stored once the
    # outermost transaction commits; until then a rollback of an enclosing one takes them.
    if not session.in_nested_transaction():
        session.info.pop(_WRITTEN, None)
