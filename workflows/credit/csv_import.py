"""CSV imports from the ERP: every row is checked first; a file with any bad row imports nothing."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit.customers import migrate_customer, parse_migrated_customer
from workflows.credit.models import Customer
from workflows.errors import Conflict, Invalid, NotFound

CUSTOMER_COLUMNS = ("external_id", "name", "email", "industry", "founded_year", "annual_revenue", "currency")
CUSTOMER_OPTIONAL = (
    "credit_limit",
    "next_review_date",
    "registration_no",
    "language",
    "contact_name",  # the person letters address
    "customer_since",  # when the relationship began; absent: the first invoice's date
    "ownership",  # state_owned, private, foreign or listed
    "region",
    "key_customer",  # true/false (yes/no, 1/0): reviewed more often; needs account_owner
    "account_owner",  # an active user who owns the key customer's account
)


@dataclass
class ImportReport:
    kind: str
    imported: int = 0
    errors: list[str] = field(default_factory=list)  # "line N: field: message"


class ImportRejected(Exception):
    """The file had bad rows; nothing was imported. `report.errors` names every bad line."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__("\n".join(report.errors))
        self.report = report


def read_rows(
    path: Path, required: Sequence[str], optional: Sequence[str]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) pairs of a UTF-8 CSV file with a header row.

    Raises:
        ImportRejected: the file cannot be read, is not UTF-8, or its header lacks required columns or
            has unknown ones.
    """
    report = ImportReport(path.name)
    try:
        # Decoded whole (an ERP export of 100,000 customers is a few MB): a decoding error then names
        # its exact line, where reading through a text stream fails a buffer ahead of it.
        raw = path.read_bytes()
    except OSError as exc:
        report.errors.append(f"{path}: cannot be read: {exc.strerror}")
        raise ImportRejected(report) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        report.errors.append(
            f"line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} cannot be decoded); "
            "save the file as CSV UTF-8 in the spreadsheet and import it again"
        )
        raise ImportRejected(report) from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in required if c not in header]
    unknown = [c for c in header if c not in required and c not in optional]
    if missing or unknown:
        if missing:
            report.errors.append(f"line 1: missing column(s): {', '.join(missing)}")
        if unknown:
            report.errors.append(f"line 1: unknown column(s): {', '.join(unknown)}")
        raise ImportRejected(report)
    try:
        for row in reader:
            if None in row:  # more cells than header columns
                report.errors.append(f"line {reader.line_num}: more values than columns")
                continue
            yield reader.line_num, {k: (v or "").strip() for k, v in row.items()}
    except csv.Error as exc:
        report.errors.append(f"line {reader.line_num}: {exc}")
    if report.errors:
        raise ImportRejected(report)


@dataclass(frozen=True)
class MasterData:
    """A kind of ERP master data identified by its `external_id` (customers, suppliers)."""

    kind: str
    columns: tuple[tuple[str, ...], tuple[str, ...]]  # (required, optional)
    model: Any  # the mapped class, with an `external_id` column
    parse: Callable[..., dict[str, Any]]  # (row, *, today) -> fields; raises Invalid naming bad fields
    # (session, fields, *, actor, now, source: the file's name) -> the stored row; raises Invalid
    create: Callable[..., object]


def import_master_data(
    session: Session,
    path: Path,
    data: MasterData,
    *,
    actor: str,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import rows identified by a new, unique `external_id`, all or nothing (in the caller's transaction).

    Raises:
        ImportRejected: with every bad line; the caller rolls back.
    """
    kind, columns = data.kind, data.columns
    existing = set(session.scalars(select(data.model.external_id).where(data.model.external_id.is_not(None))))
    report = ImportReport(kind)
    parsed: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    singular = kind.removesuffix("s")
    for line, row in read_rows(path, *columns):
        external_id = row.get("external_id", "")
        if not external_id:
            report.errors.append(f"line {line}: external_id: This field is required.")
        elif external_id in existing:
            report.errors.append(f"line {line}: external_id: {singular} {external_id} exists already")
        elif external_id in seen:
            report.errors.append(f"line {line}: external_id: {external_id} repeats line {seen[external_id]}")
        seen.setdefault(external_id, line)
        try:
            parsed.append((line, data.parse(row, today=now.date())))
        except Invalid as exc:
            report.errors += _line_errors(line, exc)
    if report.errors:
        raise ImportRejected(report)
    for line, fields in parsed:
        try:
            data.create(session, fields, actor=actor, now=now, source=path.name)
        except Invalid as exc:  # checks that need the database (e.g. the review date against the policy)
            report.errors += _line_errors(line, exc)
            continue
        report.imported += 1
        if progress:
            progress(1)
    if report.errors:
        raise ImportRejected(report)  # the caller rolls back the rows created before
    return report


def import_customer_rows(
    session: Session,
    path: Path,
    kind: str,
    columns: tuple[str, ...],
    parse: Callable[[dict[str, str], int], Any],
    post: Callable[..., object],
    *,
    actor: str,
    now: datetime,
    progress: Callable[[int], None] | None = None,
    unique: tuple[str, Callable[[Any], Hashable]] | None = None,
) -> ImportReport:
    """Import rows that name their customer in `customer_external_id` (invoices, payments, orders), all or
    nothing in the caller's transaction.

    `parse(row, customer_id)` checks a row (raises Invalid); `post(session, item, actor=, now=)` stores it in
    a savepoint of its own, so a conflicting row (duplicate number, reference) is reported, not fatal.
    `unique` (field, key of an item): a row whose key repeats an earlier row's is named
    "field: value repeats line N" before it is posted.

    Raises:
        ImportRejected: naming every bad line; the caller rolls back.
    """
    report = ImportReport(kind)
    customers = dict(session.execute(select(Customer.external_id, Customer.id)).all())
    seen: dict[Hashable, int] = {}
    for line, row in read_rows(path, columns, ()):
        external = row.pop("customer_external_id")
        if external not in customers:
            report.errors.append(f"line {line}: customer_external_id: no customer {external[:80]!r}")
            continue
        try:
            item = parse(row, customers[external])
            if unique is not None:
                field_name, key_of = unique
                key = key_of(item)
                if key in seen:
                    value = getattr(item, field_name)
                    report.errors.append(f"line {line}: {field_name}: {value} repeats line {seen[key]}")
                    continue
                seen[key] = line
            with session.begin_nested():
                post(session, item, actor=actor, now=now)
        except Invalid as exc:
            report.errors += _line_errors(line, exc)
            continue
        except (Conflict, NotFound) as exc:
            report.errors.append(f"line {line}: {exc.message}")
            continue
        report.imported += 1
        if progress:
            progress(1)
    if report.errors:
        raise ImportRejected(report)
    return report


def _line_errors(line: int, exc: Invalid) -> list[str]:
    """One error line per bad field of `exc` ("line N: field: message"), or its message if it names none."""
    fields = exc.details.get("fields", {})
    return [f"line {line}: {name}: {msg}" for name, msg in fields.items()] or [f"line {line}: {exc.message}"]


# The ERP migration: customers with the ERP's limits (history "migrated from ERP: FILE"); admins only.
CUSTOMERS = MasterData(
    "customers", (CUSTOMER_COLUMNS, CUSTOMER_OPTIONAL), Customer, parse_migrated_customer, migrate_customer
)
# Imports customers in the caller's transaction, all or nothing (ImportRejected names every bad line).
import_customers = partial(import_master_data, data=CUSTOMERS)
