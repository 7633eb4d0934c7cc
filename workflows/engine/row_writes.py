"""A step's rows past the ORM: its instance and completed task as one prepared UPDATE each, derived rows
as multi-row INSERTs.

The ORM's unit of work costs more than the statement for these rows on every step (issue 19: the
step's flush was ~4 % of the REST server's CPU, profiled). `write_changed` sends the columns whose value
changed, checks and bumps the optimistic lock as a flush does (a lost race raises the same
StaleDataError), and leaves the object as a flush would: its new values committed, nothing pending.
An object it cannot write this way (new, deleted, a changed relationship or lock column) is left to the
ORM's flush, as is everything else the step changed (an incident, a handler's rows).
"""

from __future__ import annotations

import functools
from typing import Any, cast

from sqlalchemy import Column, Insert, Table, Update, and_, bindparam, insert, inspect, update
from sqlalchemy.orm import ColumnProperty, Session
from sqlalchemy.orm.exc import StaleDataError

from workflows.store.models import Base


def write_changed(session: Session, *objects: Any) -> None:
    """UPDATE each persistent object's changed columns on the session's connection, past the ORM."""
    for obj in objects:
        state = inspect(obj)
        if not state.modified or not state.persistent:
            continue
        mapper = state.mapper
        version = mapper.version_id_col
        version_key = mapper.get_property_by_column(version).key if version is not None else None
        changed = _changed_columns(state, version_key)
        if changed is None:
            continue  # the ORM's flush writes it
        if changed:
            table = cast(Table, mapper.local_table)
            params = {**changed, "b_pk": state.identity[0]}
            if version is not None and version_key is not None:
                params["b_version"] = getattr(obj, version_key)
                params[version.key] = params["b_version"] + 1
            (pk,) = mapper.primary_key
            result = session.connection().execute(
                _update_for(table, pk, tuple(sorted(changed)), version), params
            )
            if result.rowcount != 1:  # what a flush raises for a versioned row another transaction changed
                raise StaleDataError(
                    f"UPDATE statement on table '{table.name}' expected to update 1 row(s); "
                    f"{result.rowcount} were matched."
                )
            if version is not None and version_key is not None:
                state.dict[version_key] = params[version.key]
        state._commit_all(state.dict, session.identity_map)  # what a flush does after writing the object


def _changed_columns(state: Any, version_key: str | None) -> dict[str, Any] | None:
    """{column: new value} of the attributes whose value changed; None when one is not a plain column (a
    relationship, a composite) or the lock itself was set: then the object is left to the flush."""
    changed: dict[str, Any] = {}
    for key in state.committed_state:
        prop = state.mapper.attrs.get(key)
        if not isinstance(prop, ColumnProperty) or len(prop.columns) != 1 or key == version_key:
            return None
        history = state.attrs[key].history
        if history.added:  # an attribute set to the value it had is no change, as in a flush
            changed[prop.columns[0].key] = history.added[0]
    return changed


@functools.cache
def _update_for(
    table: Table, pk: Column[Any], columns: tuple[str, ...], version: Column[Any] | None
) -> Update:
    # Built once per set of changed columns (a handful per model): building a statement costs more than
    # running it.
    where = pk == bindparam("b_pk")
    values: dict[str, Any] = {name: bindparam(name) for name in columns}
    if version is not None:
        where = and_(where, version == bindparam("b_version"))
        values[version.key] = bindparam(version.key)
    return update(table).where(where).values(values)


def insert_loaded(session: Session, obj: Any) -> None:
    """INSERT a new object's row with one prepared statement; the object is then in the session as a
    flush leaves a new one (persistent, nothing pending; a rollback expunges it, as it would).

    Every column attribute must be set (None for NULL): the object's values are the row's, and it reads
    them without a SELECT. Its changes from here on are written by `write_changed` or a flush.
    """
    state = inspect(obj)
    mapper = state.mapper
    (pk,) = mapper.primary_key
    pk_key = mapper.get_property_by_column(pk).key
    values = {}
    for prop in mapper.column_attrs:
        if prop.key != pk_key:
            if prop.key not in state.dict:
                raise ValueError(f"insert_loaded: {type(obj).__name__}.{prop.key} is not set")
            values[prop.columns[0].key] = state.dict[prop.key]
    session.add(obj)
    table = cast(Table, mapper.local_table)
    state.dict[pk_key] = session.connection().execute(_insert_returning(table, pk), values).scalar_one()
    # What the flush does after its INSERT: identity key, committed state, the transaction's record of
    # the new row (so a rollback expunges the object) and the pending_to_persistent event.
    session._register_persistent({state})


@functools.cache
def _insert_returning(table: Table, pk: Column[Any]) -> Insert:
    return insert(table).returning(pk)


def insert_rows(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Insert derived rows on the step's connection; they need none of the ORM's bookkeeping."""
    if rows:
        session.connection().execute(_insert_for(model), rows)


@functools.cache
def _insert_for(model: type[Base]) -> Insert:
    # Statements are built once per process: building one costs more than running it.
    return insert(cast(Table, model.__table__))
