"""Service operation `notify.email`: queue a templated e-mail to users, groups, the initiator or addresses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from workflows.credit.models import Customer, Supplier
from workflows.engine.service_tasks import HandlerInputError, TaskContext
from workflows.errors import message_of
from workflows.mail.letter_names import approval_letter_files
from workflows.mail.outbox import queue_email, queue_email_by_language
from workflows.mail.recipients import known_language
from workflows.mail.templates import TemplateError
from workflows.messages import _
from workflows.store.models import Group, User
from workflows.users import emails_of

USER_PREFIX = "user:"
GROUP_PREFIX = "group:"
INITIATOR = "initiator"
# Templates that are letters: the e-mail carries them as a PDF too, under this file name.
PDF_LETTERS = {"approval_letter": approval_letter_files}


@dataclass(frozen=True)
class NotifyEmailRequest:
    template: str
    # One recipient, a comma-separated list, or a list; each is "user:NAME", "group:NAME", "initiator"
    # or an e-mail address.
    to: str | list[str]
    context: dict[str, Any] | None = None
    # A letter to a customer or supplier names it: the letter is then written in its language (not the one
    # its e-mail address suggests) and greets its contact person as `contact_name`.
    customer_id: int | None = None
    supplier_id: int | None = None


@dataclass(frozen=True)
class Addressee:
    language: str  # en or zh
    contact_name: str | None


@dataclass(frozen=True)
class NotifyEmailResult:
    queued: int  # e-mails queued: one per language among the readers; 0 when a retried step had queued them
    recipients: list[str]


# Built once: building the select per recipient cost as much as running it (rest.py profile, issue 19).
_USER_ACCOUNT = select(User.active, User.email).where(User.username == bindparam("username"))


def _user_email(session: Session, username: str, described_as: str) -> str:
    user = session.execute(_USER_ACCOUNT, {"username": username}).one_or_none()
    if user is None:
        raise HandlerInputError(
            _(
                "notify.email: recipient '%(recipient)s': there is no user '%(username)s'",
                recipient=described_as,
                username=username,
            )
        )
    if not user.active:
        raise HandlerInputError(
            _(
                "notify.email: recipient '%(recipient)s': user '%(username)s' is deactivated",
                recipient=described_as,
                username=username,
            )
        )
    if not user.email:
        raise HandlerInputError(
            _(
                "notify.email: recipient '%(recipient)s': user '%(username)s' has no e-mail address; "
                "set one with `creditflow users add %(name)s --email ...`",
                recipient=described_as,
                username=username,
                name=username,
            )
        )
    return str(user.email)


def _group_emails(session: Session, group: str, described_as: str) -> list[str]:
    if session.get(Group, group) is None:
        raise HandlerInputError(
            _(
                "notify.email: recipient '%(recipient)s': there is no group '%(group)s'",
                recipient=described_as,
                group=group,
            )
        )
    emails = emails_of(session, groups=[group])
    if not emails:
        # Queuing nothing would look like success while nobody is told; fail so an admin adds members.
        raise HandlerInputError(
            _(
                "notify.email: recipient '%(recipient)s': group '%(group)s' has no active member "
                "with an e-mail address",
                recipient=described_as,
                group=group,
            )
        )
    return emails


def resolve_recipients(ctx: TaskContext, to: str | Sequence[str]) -> list[str]:
    """Turn recipient specifications into e-mail addresses, in order and without repeats.

    Raises:
        HandlerInputError: a recipient is unknown, or resolves to nobody with an e-mail address.
    """
    if isinstance(to, str):
        parts = to.split(",")
    elif isinstance(to, list | tuple) and all(isinstance(t, str) for t in to):
        parts = list(to)
    else:
        raise HandlerInputError(
            _("notify.email: parameter 'to' must be a string or a list of strings, got '%(to)s'", to=to)
        )
    specs = [spec for spec in (part.strip() for part in parts) if spec]
    if not specs:
        raise HandlerInputError(_("notify.email: parameter 'to' names no recipient"))
    addresses: list[str] = []
    for spec in specs:
        if spec.startswith(USER_PREFIX):
            addresses.append(_user_email(ctx.session, spec.removeprefix(USER_PREFIX), spec))
        elif spec.startswith(GROUP_PREFIX):
            addresses.extend(_group_emails(ctx.session, spec.removeprefix(GROUP_PREFIX), spec))
        elif spec == INITIATOR:
            addresses.append(_user_email(ctx.session, ctx.started_by, spec))
        elif "@" in spec:
            addresses.append(spec)
        else:
            raise HandlerInputError(
                _(
                    "notify.email: unknown recipient '%(spec)s' in instance %(instance)s at %(element)s; "
                    'use "user:NAME", "group:NAME", "initiator" or an e-mail address',
                    spec=spec,
                    instance=ctx.instance_id,
                    element=ctx.bpmn_id,
                )
            )
    return list(dict.fromkeys(addresses))


def letter_addressee(session: Session, req: NotifyEmailRequest) -> Addressee | None:
    """The customer or supplier `req` names, as its letter addresses it; None when it names neither.

    Raises:
        HandlerInputError: it names both, or one that does not exist.
    """
    if req.customer_id is not None and req.supplier_id is not None:
        raise HandlerInputError(_("notify.email: a letter goes to a customer or to a supplier, not to both"))
    party: Customer | Supplier | None
    if req.customer_id is not None:
        party = session.get(Customer, req.customer_id)
        missing = _("notify.email: customer %(number)s does not exist", number=req.customer_id)
    elif req.supplier_id is not None:
        party = session.get(Supplier, req.supplier_id)
        missing = _("notify.email: supplier %(number)s does not exist", number=req.supplier_id)
    else:
        return None
    if party is None:
        raise HandlerInputError(missing)
    return Addressee(known_language(party.language), party.contact_name or None)


def notify_email(ctx: TaskContext, req: NotifyEmailRequest) -> NotifyEmailResult:
    """Queue one templated e-mail in the step's transaction; a retried step does not queue it again."""
    recipients = resolve_recipients(ctx, req.to)
    addressee = letter_addressee(ctx.session, req)
    context = {
        # A contact named in the diagram's context wins over the one on file.
        **({"contact_name": addressee.contact_name} if addressee else {}),
        **(req.context or {}),
        # The instance's own facts win over same-named task data, so templates can rely on them.
        "instance_id": ctx.instance_id,
        "process_key": ctx.process_key,
        "business_key": ctx.business_key,
    }
    pdf_letter = PDF_LETTERS[req.template](ctx.instance_id) if req.template in PDF_LETTERS else ""
    mail: dict[str, Any] = {
        "to": recipients,
        "template": req.template,
        "context": context,
        "dedupe_key": f"notify:{ctx.task_key}",
        "now": ctx.now,
        "instance_id": ctx.instance_id,
    }
    try:
        if addressee is None and not pdf_letter:
            # Internal mail: each reader in their own language, one e-mail per language among them.
            rows = queue_email_by_language(ctx.session, **mail)
        else:
            row = queue_email(
                ctx.session,
                **mail,
                # The addressee's language; else the recipients' (queue_email looks it up by address).
                language=addressee.language if addressee else None,
                # Letters to customers also go as a PDF in that language.
                pdf_letter=pdf_letter,
            )
            rows = [] if row is None else [row]
    except (TemplateError, ValueError) as exc:
        raise HandlerInputError(
            _(
                "notify.email in instance %(instance)s at %(element)s: %(problem)s",
                instance=ctx.instance_id,
                element=ctx.bpmn_id,
                problem=message_of(exc),
            )
        ) from exc
    return NotifyEmailResult(queued=len(rows), recipients=recipients)
