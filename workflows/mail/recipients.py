"""Which language the readers of an e-mail share, found by address: a user's chosen `language`, else that of
the customer with the address; English for anyone else and for a user who chose none. A letter that names
its customer or supplier (notify.email's customer_id / supplier_id) is written in that party's `language`
instead (handlers.notifications), so a supplier's letters follow its stored language too. Internal mail to
people of different languages goes as one e-mail per language (by_language; queue_email_by_language)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from workflows.credit.models import Customer
from workflows.languages import LANGUAGES
from workflows.store.models import User

FALLBACK = "en"


def known_language(code: str | None) -> str:
    """`code` when creditflow writes mail in it, else English."""
    return code if code in LANGUAGES else FALLBACK


def common_language(session: Session, addresses: Iterable[str]) -> str:
    """The language the readers of `addresses` share: for each address its user's chosen language (English
    when they chose none), else the language of the customer with that address (the first by id when several
    share it), else English; English when they differ (one e-mail goes to all of them)."""
    languages = set(languages_of(session, addresses).values())
    return languages.pop() if len(languages) == 1 else FALLBACK


def by_language(session: Session, addresses: Iterable[str]) -> dict[str, list[str]]:
    """The addresses grouped by their reader's language (as common_language finds it), in the order given:
    internal mail to people of different languages goes as one e-mail per language."""
    given = list(addresses)
    found = languages_of(session, given)
    groups: dict[str, list[str]] = {}
    for address in given:
        groups.setdefault(found.get(address.strip().lower(), FALLBACK), []).append(address)
    return groups


def languages_of(session: Session, addresses: Iterable[str]) -> dict[str, str]:
    """Each address (lower-cased) with the language creditflow writes to it: its user's chosen one (English
    when they chose none), else that of the customer with the address (the first by id), else English."""
    wanted = sorted({address.strip().lower() for address in addresses})
    if not wanted:
        return {}
    found: dict[str, str | None] = {}
    # Prebuilt statements, one address (every notification of a step) compared with `=`: building the
    # selects and expanding IN (...) per call cost more than running them (rest.py profile, issue 19).
    one = len(wanted) == 1
    users = _USER_WITH if one else _USERS_WITH
    for address, language in session.execute(users, {"address": wanted[0]} if one else {"addresses": wanted}):
        if language or address not in found:  # two users sharing a mailbox: the one who chose a language
            found[address] = language
    # Customers only for the addresses no user has: internal mail (every notification of a step) never scans
    # the customers, whose e-mail column has no index.
    outside = [address for address in wanted if address not in found]
    if outside:
        for address, language in session.execute(_CUSTOMERS_WITH, {"addresses": outside}):
            found[address] = language  # the lowest id is written last
    return {address: known_language(found.get(address)) for address in wanted}


_USER_WITH = select(func.lower(User.email), User.language).where(
    func.lower(User.email) == bindparam("address"), User.active.is_(True)
)
_USERS_WITH = select(func.lower(User.email), User.language).where(
    func.lower(User.email).in_(bindparam("addresses", expanding=True)), User.active.is_(True)
)
_CUSTOMERS_WITH = (
    select(func.lower(Customer.email), Customer.language)
    .where(func.lower(Customer.email).in_(bindparam("addresses", expanding=True)))
    .order_by(Customer.id.desc())
)
