"""CSV imports from the ERP: every row is checked first; a file with any bad row imports nothing."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit.customers import create_customer, parse_customer
from workflows.credit.models import Customer
from workflows.errors import Invalid

CUSTOMER_COLUMNS = ("external_id", "name", "email", "industry", "founded_year", "annual_revenue", "currency")
CUSTOMER_OPTIONAL = ("credit_limit", "next_review_date", "registration_no", "language")


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
        ImportRejected: the file cannot be read or its header lacks required columns or has unknown ones.
    """
    report = ImportReport(path.name)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        report.errors.append(f"{path}: cannot be read: {exc.strerror}")
        raise ImportRejected(report) from exc
    with handle:
        reader = csv.DictReader(handle)
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
        except (UnicodeDecodeError, csv.Error) as exc:
            report.errors.append(f"line {reader.line_num}: {exc}")
        if report.errors:
            raise ImportRejected(report)


def import_master_data(
    session: Session,
    path: Path,
    *,
    kind: str,
    columns: tuple[tuple[str, ...], tuple[str, ...]],
    existing: set[str],
    parse: Callable[[dict[str, str]], dict[str, Any]],
    create: Callable[[dict[str, Any]], object],
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import rows identified by a new, unique `external_id` (customers, suppliers), all or nothing.

    `columns` is (required, optional); `parse` raises Invalid naming bad fields; `create` stores one row.

    Raises:
        ImportRejected: with every bad line; the caller rolls back.
    """
    report = ImportReport(kind)
    parsed: list[dict[str, Any]] = []
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
            parsed.append(parse(row))
        except Invalid as exc:
            report.errors += [f"line {line}: {name}: {msg}" for name, msg in exc.details["fields"].items()]
    if report.errors:
        raise ImportRejected(report)
    for fields in parsed:
        create(fields)
        report.imported += 1
        if progress:
            progress(1)
    return report


def import_customers(
    session: Session,
    path: Path,
    *,
    actor: str,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import customers (in the caller's transaction). Raises: ImportRejected (nothing imported)."""
    return import_master_data(
        session,
        path,
        kind="customers",
        columns=(CUSTOMER_COLUMNS, CUSTOMER_OPTIONAL),
        existing=set(session.scalars(select(Customer.external_id).where(Customer.external_id.is_not(None)))),
        parse=lambda row: parse_customer(row, today=now.date()),
        create=lambda fields: create_customer(session, fields, actor=actor, now=now),
        progress=progress,
    )
