"""Which language a recipient reads: the customer's `language` for mail to a customer, the user's for internal
mail; English for anyone else (a supplier has no stored language yet) and for a user who chose none."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.credit.models import Customer
from workflows.languages import LANGUAGES
from workflows.store.models import User

FALLBACK = "en"


def known_language(code: str | None) -> str:
    """`code` when creditflow writes mail in it, else English."""
    return code if code in LANGUAGES else FALLBACK


def address_language(session: Session, address: str) -> str:
    """The language of the person or company behind an e-mail address: a user's chosen language, else the
    language of the customer with that address (the first by id when several share it), else English."""
    normal = address.strip().lower()
    user = session.scalar(
        select(User.language).where(func.lower(User.email) == normal, User.active.is_(True)).limit(1)
    )
    if user:
        return known_language(user)
    customer = session.scalar(
        select(Customer.language).where(func.lower(Customer.email) == normal).order_by(Customer.id).limit(1)
    )
    return known_language(customer)


def by_language(session: Session, addresses: Iterable[str]) -> dict[str, list[str]]:
    """The addresses grouped by the language their readers read, each group in the given order; English
    first, so a mail that goes out in one language keeps its place."""
    groups: dict[str, list[str]] = {}
    for address in addresses:
        groups.setdefault(address_language(session, address), []).append(address)
    return dict(sorted(groups.items(), key=lambda item: item[0] != FALLBACK))
