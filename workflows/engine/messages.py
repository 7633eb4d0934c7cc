"""Who may send a message, and the schema its data must fit: declared on the diagram's catch events.

A catch event of message NAME (a receive task, an intermediate or boundary catch event) may carry the
properties `senderGroups` (comma-separated groups whose members may send NAME to it) and
`messageJsonSchemaFilename` (a JSON schema deployed with the diagram, checked like a form). A catch event
that names no sender groups takes the message from admins (and the system) only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from sqlalchemy.orm import Session

from workflows.credit.roles import changes_nothing
from workflows.definitions.compile import LoadedSpec, split_names
from workflows.definitions.display_names import definition_names
from workflows.definitions.forms import validate_form
from workflows.definitions.versions import latest_definitions
from workflows.engine.runtime import Runtime
from workflows.errors import Forbidden
from workflows.messages import _
from workflows.store.models import ProcessDefinition, ProcessInstance
from workflows.users import Actor

SENDER_GROUPS = "senderGroups"
MESSAGE_SCHEMA = "messageJsonSchemaFilename"


@dataclass(frozen=True)
class MessageRule:
    """What one catch event of a deployed version declares about the message it waits for."""

    process_key: str
    version: int
    bpmn_id: str
    sender_groups: tuple[str, ...]
    schema_file: str | None

    def may_send(self, actor: Actor) -> bool:
        """Members of the sender groups may send it (never a mere auditor); admins (and the system) always."""
        return actor.in_any(self.sender_groups) and not changes_nothing(actor)

    @property
    def who(self) -> str:
        where = _(
            "%(id)s of %(key)s v%(version)s", id=self.bpmn_id, key=self.process_key, version=self.version
        )
        if not self.sender_groups:
            return _("only admins may: %(where)s names no %(property)s", where=where, property=SENDER_GROUPS)
        return _(
            "only members of %(groups)s may (%(property)s of %(where)s)",
            groups=", ".join(self.sender_groups),
            property=SENDER_GROUPS,
            where=where,
        )


def message_rules(loaded: LoadedSpec, name: str, process_key: str, version: int) -> list[MessageRule]:
    """The rules of every catch event of message `name` in a version (its subprocesses included)."""
    rules = []
    for spec in (loaded.spec, *loaded.subprocess_specs.values()):
        for task_spec in spec.task_specs.values():
            if isinstance(task_spec, CatchingEvent) and name in _message_names(task_spec):
                props = (getattr(task_spec, "extensions", None) or {}).get("properties", {}) or {}
                rules.append(
                    MessageRule(
                        process_key,
                        version,
                        task_spec.bpmn_id or task_spec.name,
                        tuple(split_names(props.get(SENDER_GROUPS))),
                        props.get(MESSAGE_SCHEMA) or None,
                    )
                )
    return rules


def require_sender(actor: Actor, name: str, rules: Iterable[MessageRule]) -> None:
    """Refuse the message unless every catch event it reaches lets the actor send it.

    Raises:
        Forbidden: naming the groups that may send it and where that is declared.
    """
    _refuse_auditors(actor, name)
    for rule in rules:
        if not rule.may_send(actor):
            raise Forbidden(
                _("%(user)s may not send %(name)s: %(who)s", user=actor.username, name=name, who=rule.who)
            )


def require_any_sender(actor: Actor, name: str, rules: list[MessageRule]) -> None:
    """For a message nobody waits for: refuse it unless some deployed catch event lets the actor send it.

    Raises:
        Forbidden: no catch event lets the actor send `name`.
    """
    _refuse_auditors(actor, name)
    if actor.is_admin or any(rule.may_send(actor) for rule in rules):
        return
    if not rules:
        raise Forbidden(
            _(
                "%(user)s may not send %(name)s: no deployed process catches it",
                user=actor.username,
                name=name,
            )
        )
    raise Forbidden(
        _("%(user)s may not send %(name)s: %(who)s", user=actor.username, name=name, who=rules[0].who)
    )


def _refuse_auditors(actor: Actor, name: str) -> None:
    if changes_nothing(actor):
        raise Forbidden(
            _(
                "%(user)s may not send %(name)s: auditors read everything and change nothing",
                user=actor.username,
                name=name,
            )
        )


def _message_names(task_spec: object) -> set[str]:
    definition = getattr(task_spec, "event_definition", None)
    definitions = (
        definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]
    )
    return {d.name for d in definitions if isinstance(d, MessageEventDefinition)}


def accept_message(
    rt: Runtime,
    session: Session,
    instance: ProcessInstance,
    name: str,
    payload: Mapping[str, Any],
    *,
    actor: Actor,
    internal: bool = False,
) -> dict[str, Any]:
    """The message's data as this instance's version accepts it: the sender checked against its catch events
    (unless `internal`: creditflow relaying a fact it recorded itself, such as a booked payment) and the data
    against their message schema, like a form.

    Raises:
        Forbidden: the actor may not send `name` to this instance.  Invalid: the data breaks the schema.
    """
    rules = message_rules(
        rt.spec_for(session, instance.definition_id), name, instance.process_key, instance.version
    )
    if not internal:
        require_sender(actor, name, rules)
    data = dict(payload)
    definition = rt.definition(session, instance.definition_id)
    for schema_file in sorted({r.schema_file for r in rules if r.schema_file}):
        data = validate_form(rt.form_for(session, definition, schema_file), data)
    return data


def deployed_rules(rt: Runtime, session: Session, name: str) -> list[MessageRule]:
    """The rules of every catch event of `name` in the versions new instances start from."""
    rules = []
    for definition in latest_definitions(session):
        loaded = rt.spec_for(session, definition.id)
        rules += message_rules(loaded, name, definition.process_key, definition.version)
    return rules


def message_refused(session: Session, instance: ProcessInstance, name: str) -> str:
    """What a refused message is said as: the step that catches it, by the name its diagram gives it in the
    reader's language ("实例 5 的“付款承诺”环节无法使用此消息"), else the message's name."""
    definition = session.get(ProcessDefinition, instance.definition_id)
    step = definition_names(session, definition).message_words(name) if definition is not None else None
    if step is None:
        return _("message %(name)s cannot be used by instance %(id)s", name=name, id=instance.id)
    return _("The message for '%(step)s' in instance %(id)s cannot be used", step=step, id=instance.id)
