"""The shipped groups' names as people read them ("credit_analyst" -> "Credit analyst" / 信用分析师), for
sentences the domain says (a 403 naming who may act) and for the web UI's labels (webui/group_labels.py).

Each name is a workflows.messages.Text, so whoever shows the sentence says it in the reader's language; a
group the deployment added itself is named by its id."""

from __future__ import annotations

from collections.abc import Iterable

from workflows.credit import roles
from workflows.errors import listed
from workflows.messages import Text, _
from workflows.store.shown_json import Unreadable

GROUP_NAMES: dict[str, Text] = {
    roles.SALES: _("Sales"),
    roles.CREDIT_ANALYST: _("Credit analyst"),
    roles.CREDIT_MANAGER: _("Credit manager"),
    roles.CFO: _("CFO"),
    roles.AUDITOR: _("Auditor"),
    roles.COLLECTIONS: _("Collector"),
    roles.COLLECTIONS_LEAD: _("Collections lead"),
    roles.LEGAL: _("Legal"),
    roles.PROCUREMENT: _("Procurement"),
    roles.PROCUREMENT_MANAGER: _("Procurement manager"),
    roles.FINANCE: _("Finance"),
    roles.LOGISTICS: _("Logistics"),
    roles.PROCESS_OWNER: _("Process owner"),
    roles.ADMIN: _("Administrator"),
}


def group_name(group: str) -> str:
    """A group's name (a Text the reader's language says again); an unknown group as its id."""
    return GROUP_NAMES.get(group, group)


def group_names(groups: Iterable[str]) -> str:
    """Several groups' names as one list ("Credit manager, Finance"; in Chinese joined with "、"), in the
    order given. Groups stored as JSON no one can read (a hand edit) name nobody: only admins may act
    (Actor.in_any), which a refusal says instead of failing."""
    if isinstance(groups, Unreadable):
        return _("groups no one can read (only administrators)")
    return listed([group_name(g) for g in groups])
