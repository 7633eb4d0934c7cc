"""Exchange rates and the base currency: amounts stay in their own currency per document, and are
converted only where they are compared or summed across currencies (authority thresholds, aging totals,
provisions, KPIs). A missing rate never becomes a guess: callers get `MissingRate` and send the step to a
person."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Index, String, UniqueConstraint, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator

from workflows.credit.csv_import import ImportRejected, ImportReport, read_rows
from workflows.credit.record_fields import raise_field_errors
from workflows.errors import Conflict, Invalid
from workflows.messages import _
from workflows.money import MAX_AMOUNT
from workflows.store.audit import record_event
from workflows.store.models import Base
from workflows.store.paging import page_rows

CENT = Decimal("0.01")
RATE_PLACES = Decimal("0.0000000001")  # ten places: CNY 1 = EUR 0.1283000000
MAX_RATE = Decimal("1000000")  # the most units of base currency one unit of any currency is worth
# What a currency, a day and a rate written as text look like: ASCII only, as the API's schema says (str
# methods alone take "G1P", "2026W011" and Decimal alone "1_000" or Arabic-Indic digits).
_CURRENCY = re.compile(r"[A-Z]{3}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_RATE_TEXT = re.compile(r"[0-9]{1,7}(?:\.[0-9]{1,10})?")


class Decimal10(TypeDecorator[Decimal]):
    """An exact decimal with ten places, stored as an integer (like Decimal2 for money)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("a rate must be a Decimal, not a float")
        return int((Decimal(value) / RATE_PLACES).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else (Decimal(value) * RATE_PLACES).quantize(RATE_PLACES)


class FxRate(Base):
    """How many units of the base currency one unit of `currency` was worth from `day` on."""

    __tablename__ = "fx_rates"
    __table_args__ = (
        UniqueConstraint("currency", "day", name="uq_fx_rates_currency_day"),
        Index("ix_fx_rates_lookup", "currency", "day"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    day: Mapped[date]
    rate: Mapped[Decimal] = mapped_column(Decimal10)
    source: Mapped[str] = mapped_column(String(80), default="")
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]


class MissingRate(Exception):
    """No stored rate for a currency on or before a day: a person must decide, not a guess."""

    def __init__(self, currency: str, day: date, base: str) -> None:
        super().__init__(
            _(
                "no exchange rate %(currency)s->%(base)s on or before %(day)s; post one (POST /api/fx-rates "
                "or `creditflow import fx-rates`) before this step can convert",
                currency=currency,
                base=base,
                day=day.isoformat(),
            )
        )
        self.currency, self.day, self.base = currency, day, base


class BeyondMoneyBound(Conflict):
    """Amounts converted into the base currency come to more than any amount may be: a rate is wrong (a
    rate of 1,000,000 meant as 1.000000), and a total would be a silent nonsense figure or overflow its
    column. The conversion names the currencies, largest first, for a person to check their rates."""

    def __init__(
        self, what: str, total: Decimal, in_base: Mapping[str, Decimal], day: date, base: str
    ) -> None:
        largest = sorted(in_base, key=lambda c: in_base[c], reverse=True)
        super().__init__(
            f"{what} converted into {base} at the rates of {day.isoformat()} come to {total:.2f}, beyond the "
            f"largest amount ({MAX_AMOUNT}): check the rate of {', '.join(largest)} "
            "(GET /api/fx-rates) and correct it with POST /api/fx-rates",
            details={"currencies": largest},
        )


def check_money_bound(
    what: str, in_base: Mapping[str, Decimal], day: date, base: str, *totals: Decimal
) -> None:
    """Refuse totals in the base currency beyond MAX_AMOUNT; `in_base` is each currency's part of them.

    Raises:
        BeyondMoneyBound: naming the currencies whose conversion made it so large.
    """
    for total in totals:
        if abs(total) > MAX_AMOUNT:
            raise BeyondMoneyBound(what, total, in_base, day, base)


@dataclass(frozen=True)
class RateInput:
    currency: str
    day: date
    rate: Decimal
    source: str


def parse_rate(raw: Any, base: str) -> RateInput:
    """Check one rate as the API or a CSV row sends it.

    Raises:
        Invalid: naming each bad field.
    """
    errors: dict[str, str] = {}
    if not isinstance(raw, dict):
        raise Invalid(_("An exchange rate is an object {currency, rate, date}."))
    currency = raw.get("currency")
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        errors["currency"] = _("a three-letter ISO 4217 code such as USD")
    elif currency == base:
        errors["currency"] = _("%(base)s is the base currency; its rate is always 1", base=base)
    rate = _rate(raw.get("rate"), errors)
    day: date | None = None
    text = raw.get("date")
    try:
        day = date.fromisoformat(text) if isinstance(text, str) and _DAY.fullmatch(text) else None
    except ValueError:
        day = None
    if day is None:
        errors["date"] = _("an ISO 8601 date such as 2027-01-14")
    source = raw.get("source", "")
    if not isinstance(source, str) or len(source) > 80 or "\x00" in source:
        errors["source"] = _("text of at most 80 characters")
    raise_field_errors(errors, _("exchange rate"))
    assert day is not None and rate is not None and isinstance(currency, str)
    return RateInput(currency, day, rate, source)


def _rate(value: Any, errors: dict[str, str]) -> Decimal | None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, str, Decimal))
        or (isinstance(value, str) and not _RATE_TEXT.fullmatch(value))
    ):
        errors["rate"] = _('a positive decimal (a string such as "0.1283" or a number)')
        return None
    try:
        rate = Decimal(value)
    except InvalidOperation:
        rate = None
    if rate is None or not rate.is_finite() or rate <= 0 or rate > MAX_RATE:
        errors["rate"] = _("a positive decimal of at most %(max_rate)s", max_rate=MAX_RATE)
        return None
    if rate != rate.quantize(RATE_PLACES, rounding=ROUND_HALF_UP) or rate.quantize(RATE_PLACES) == 0:
        errors["rate"] = _("at most ten decimal places, and not zero at that precision")
        return None
    return rate


def store_rate(session: Session, data: RateInput, *, actor: str, now: datetime) -> FxRate:
    """Insert or replace the rate of `data.currency` on `data.day` (a correction keeps the one row), with
    an audit event `fx_rate_set` naming `actor` and the rate it replaced."""
    row = session.scalar(select(FxRate).where(FxRate.currency == data.currency, FxRate.day == data.day))
    before = None if row is None else {"rate": _rate_text(row.rate), "source": row.source}
    if row is None:
        row = FxRate(currency=data.currency, day=data.day)
        session.add(row)
    row.rate, row.source, row.created_by, row.created_at = data.rate, data.source, actor, now
    session.flush()
    record_event(
        session,
        actor=actor,
        action="fx_rate_set",
        now=now,
        currency=data.currency,
        day=data.day.isoformat(),
        before=before,
        after={"rate": _rate_text(data.rate), "source": data.source},
    )
    return row


DEFAULT_MAX_MOVE = Decimal("0.25")  # [credit] fx_max_move: the CLI and the API pass the configured one


def nearest_rate(session: Session, currency: str, day: date) -> FxRate | None:
    """The stored rate of `currency` nearest to `day` on another day (the earlier one on a tie), else the
    one of `day` itself (a correction of the currency's only rate); None for the currency's first rate."""
    by_day = select(FxRate).where(FxRate.currency == currency)
    before = session.scalar(by_day.where(FxRate.day < day).order_by(FxRate.day.desc()).limit(1))
    after = session.scalar(by_day.where(FxRate.day > day).order_by(FxRate.day).limit(1))
    near = [row for row in (before, after) if row is not None]
    if near:
        return min(near, key=lambda row: abs((row.day - day).days))
    return session.scalar(by_day.where(FxRate.day == day))


def post_rate(
    session: Session,
    data: RateInput,
    *,
    actor: str,
    now: datetime,
    max_move: Decimal = DEFAULT_MAX_MOVE,
    force: bool = False,
) -> FxRate:
    """store_rate, unless the rate moves more than `max_move` (a share) from the nearest stored rate of
    its currency: the authority thresholds weigh limits at these rates, so a slip (0.0000000001 for 0.95)
    would let one approver sign what needs two. `force` (the caller lets only an admin force) stores it
    anyway, with an audit event `fx_rate_forced` naming `actor`, the previous rate and the move.

    Raises:
        Invalid: naming the previous rate and the move (`details["previous"]`, `details["move"]`).
    """
    near = nearest_rate(session, data.currency, data.day)
    move = None if near is None else abs(data.rate - near.rate) / near.rate
    if near is None or move is None or move <= max_move:
        return store_rate(session, data, actor=actor, now=now)
    previous = {"date": near.day.isoformat(), "rate": _rate_text(near.rate)}
    moved = f"{move:.4f}".rstrip("0").rstrip(".")
    if not force:
        message = (
            f"{_rate_text(data.rate)} moves {move:.1%} from the {data.currency} rate {previous['rate']} of "
            f"{previous['date']} (at most {(max_move * 100).normalize():f}%, [credit] fx_max_move); check "
            'the rate, or an admin posts it with "force": true'
        )
        raise Invalid(
            _("The exchange rate has errors: rate: %(message)s", message=message),
            details={"fields": {"rate": message}, "previous": previous, "move": moved},
        )
    row = store_rate(session, data, actor=actor, now=now)
    record_event(
        session,
        actor=actor,
        action="fx_rate_forced",
        now=now,
        currency=data.currency,
        day=data.day.isoformat(),
        rate=_rate_text(data.rate),
        previous=previous,
        move=moved,
        max_move=str(max_move),
    )
    return row


def rate_on(session: Session, currency: str, day: date, base: str) -> Decimal:
    """Units of `base` per unit of `currency`: the latest stored rate on or before `day`.

    Raises:
        MissingRate: none is stored.
    """
    if currency == base:
        return Decimal(1)
    rate = session.scalar(
        select(FxRate.rate)
        .where(FxRate.currency == currency, FxRate.day <= day)
        .order_by(FxRate.day.desc())
        .limit(1)
    )
    if rate is None:
        raise MissingRate(currency, day, base)
    return rate


def to_base(session: Session, amount: Decimal, currency: str, day: date, base: str) -> Decimal:
    """`amount` in the base currency at the rate of `day`, to the cent.

    Raises:
        MissingRate: no rate for `currency` on or before `day`.
    """
    return (amount * rate_on(session, currency, day, base)).quantize(CENT, rounding=ROUND_HALF_UP)


def rates_on(session: Session, currencies: Iterable[str], day: date, base: str) -> dict[str, Decimal]:
    """The rate of each currency on `day`, for converting many rows with one lookup per currency.

    Raises:
        MissingRate: for the first currency without a rate.
    """
    return {currency: rate_on(session, currency, day, base) for currency in sorted(set(currencies))}


def rate_json(row: FxRate) -> dict[str, Any]:
    return {
        "currency": row.currency,
        "date": row.day.isoformat(),
        "rate": _rate_text(row.rate),
        "source": row.source,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
    }


def _rate_text(rate: Decimal) -> str:
    return format(rate.normalize(), "f")


def list_rates(
    session: Session,
    *,
    currency: str | None = None,
    start: date | None = None,
    end: date | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[FxRate], int]:
    """One page of stored rates, newest day first (then by currency), and the total."""
    query = select(FxRate)
    if currency:
        query = query.where(FxRate.currency == currency)
    if start is not None:
        query = query.where(FxRate.day >= start)
    if end is not None:
        query = query.where(FxRate.day <= end)
    return page_rows(session, query.order_by(FxRate.day.desc(), FxRate.currency), page, per_page)


RATE_COLUMNS = ("currency", "rate", "date")
RATE_OPTIONAL = ("source",)


def import_fx_rates(
    session: Session,
    path: Path,
    *,
    base: str,
    actor: str,
    now: datetime,
    max_move: Decimal = DEFAULT_MAX_MOVE,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import exchange rates (`currency,rate,date[,source]`), each stored as POST /api/fx-rates stores it.

    Every row is checked before any is stored, and a currency may appear once per day in a file (two
    rates for one day would leave the one stored to the order of the rows). Rows are then stored by
    currency and day, each checked against the nearest rate stored (the file's earlier rows included) as
    post_rate checks it, without force; a row that moves too far rejects the file (the caller rolls back).

    Raises:
        ImportRejected: naming every bad line; nothing was stored.
    """
    report = ImportReport("fx-rates")
    rates: list[tuple[int, RateInput]] = []
    seen: dict[tuple[str, date], int] = {}
    try:
        for line, row in read_rows(path, RATE_COLUMNS, RATE_OPTIONAL):
            try:
                rate = parse_rate({k: v for k, v in row.items() if k != "source" or v}, base)
            except Invalid as exc:
                report.errors += [f"line {line}: {k}: {v}" for k, v in exc.details.get("fields", {}).items()]
                continue
            first = seen.setdefault((rate.currency, rate.day), line)
            if first != line:
                report.errors.append(
                    f"line {line}: {rate.currency} on {rate.day.isoformat()} is on line {first} already"
                )
                continue
            rates.append((line, rate))
    except ImportRejected as exc:  # the file's own problems (header, cells, encoding), after the rows'
        report.errors += exc.report.errors
    if report.errors:
        raise ImportRejected(report)
    for line, rate in sorted(rates, key=lambda item: (item[1].currency, item[1].day)):
        try:
            post_rate(session, rate, actor=actor, now=now, max_move=max_move)
        except Invalid as exc:
            report.errors += [f"line {line}: {k}: {v}" for k, v in exc.details["fields"].items()]
            continue
        report.imported += 1
        if progress:
            progress(1)
    if report.errors:
        report.errors.sort(key=lambda error: int(error.split(":")[0].removeprefix("line ")))
        raise ImportRejected(report)  # the caller rolls back the rows stored before
    return report
