"""Who may start a process: one rule for the REST API, the web start page, the CLI and the read sides."""

from __future__ import annotations

from workflows.credit.roles import changes_nothing
from workflows.errors import Forbidden
from workflows.messages import _
from workflows.store.models import ProcessDefinition
from workflows.users import Actor


def may_start(actor: Actor, definition: ProcessDefinition) -> bool:
    """Members of the start event's lane group (or its `startGroups`) may start it; admins may start any.

    A start event with no lane and no `startGroups` names nobody, so only admins (and the system, which
    acts as admin for batch starts) may start it.
    """
    return actor.in_any(definition.start_groups or []) and not changes_nothing(actor)


def require_may_start(actor: Actor, definition: ProcessDefinition) -> None:
    """Raise Forbidden, naming who may start the process, unless the actor may.

    Raises:
        Forbidden: the actor is in none of the start groups.
    """
    if may_start(actor, definition):
        return
    key = definition.process_key
    if changes_nothing(actor):
        raise Forbidden(
            _(
                "%(user)s may not start %(key)s: auditors read everything and change nothing",
                user=actor.username,
                key=key,
            )
        )
    if definition.start_groups and isinstance(definition.start_groups, list):  # not one no one can read
        who = _("only members of %(groups)s may", groups=", ".join(definition.start_groups))
    else:
        who = _("its start event has no lane and no startGroups, so only admins may")
    raise Forbidden(_("%(user)s may not start %(key)s: %(who)s", user=actor.username, key=key, who=who))
