"""Who may read a process instance: one rule for the instance view, its tasks and every list.

An instance is readable by its initiator; by the groups that were offered one of its tasks and by whoever
was assigned or completed one; by the owners of its business object (the customer's sales owner, the
contract's buyer, found through the instance's `customer_id` / `contract_id` data); by auditors; and by
admins. Being allowed to start a process no longer opens every instance of it.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, String, cast, or_, select, true
from sqlalchemy.orm import Session

from workflows.credit import roles
from workflows.credit.models import Contract, Customer
from workflows.store.models import InboxItem, InstanceGroup, ProcessInstance
from workflows.users import Actor


def reads_everything(actor: Actor) -> bool:
    """Admins and auditors read every instance (auditors change nothing)."""
    return actor.is_admin or not actor.groups.isdisjoint(roles.READ_ALL)


def readable(session: Session, actor: Actor) -> ColumnElement[bool]:
    """A condition on ProcessInstance: the instances the actor may read."""
    if reads_everything(actor):
        return true()
    me = actor.username
    worked = select(InboxItem.instance_id).where(or_(InboxItem.assignee == me, InboxItem.completed_by == me))
    offered = select(InstanceGroup.instance_id).where(InstanceGroup.group_name.in_(sorted(actor.groups)))
    conditions = [
        ProcessInstance.started_by == me,
        ProcessInstance.id.in_(worked),
        ProcessInstance.id.in_(offered),
    ]
    customers = [str(i) for i in session.scalars(select(Customer.id).where(Customer.sales_owner == me))]
    if customers:
        conditions.append(_data_key("customer_id").in_(customers))
    contracts = [str(i) for i in session.scalars(select(Contract.id).where(Contract.created_by == me))]
    if contracts:
        conditions.append(_data_key("contract_id").in_(contracts))
    return or_(*conditions)


def may_read(session: Session, actor: Actor, instance_id: int) -> bool:
    """Whether the actor may read this instance (see `readable`)."""
    if reads_everything(actor):
        return True
    found = session.scalar(
        select(ProcessInstance.id).where(ProcessInstance.id == instance_id, readable(session, actor))
    )
    return found is not None


def _data_key(name: str) -> ColumnElement[str]:
    # As text on both databases: SQLite's json_extract keeps a number's type, PostgreSQL's ->> gives text,
    # and casting the value to an integer would fail on PostgreSQL for a diagram that stores text there.
    return cast(ProcessInstance.data[name].as_string(), String)
