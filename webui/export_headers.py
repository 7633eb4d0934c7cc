"""The header row of the files the pages let people download (/portfolio.csv and .xlsx, /audit.csv,
/audit/sod.csv), in the reader's language (issue 20).

Decision: a download from a page is for people, so a Chinese page's file names its columns in Chinese; an
English page's file keeps the column ids (customer_id, days_1_30, ...) it always had, and so do the API's
exports (/api/audit.csv, /api/audit/sod.csv), which programs read: a script depends on the ids, never on a
page's language. The values (amounts, dates, ids) are the same in both languages. README "Exports".
"""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import pgettext

from webui.formatting import page_locale


def _labels() -> dict[str, str]:
    """Each column id in the page's language; the context keeps these apart from the pages' own words."""
    return {
        # portfolio (workflows/credit/portfolio_export.py COLUMNS)
        "customer_id": pgettext("export column", "customer_id"),
        "external_id": pgettext("export column", "external_id"),
        "name": pgettext("export column", "name"),
        "grade": pgettext("export column", "grade"),
        "region": pgettext("export column", "region"),
        "industry": pgettext("export column", "industry"),
        "sales_owner": pgettext("export column", "sales_owner"),
        "currency": pgettext("export column", "currency"),
        "key_customer": pgettext("export column", "key_customer"),
        "account_owner": pgettext("export column", "account_owner"),
        "not_due": pgettext("export column", "not_due"),
        "days_1_30": pgettext("export column", "days_1_30"),
        "days_31_60": pgettext("export column", "days_31_60"),
        "days_61_90": pgettext("export column", "days_61_90"),
        "days_91_120": pgettext("export column", "days_91_120"),
        "over_120": pgettext("export column", "over_120"),
        "total": pgettext("export column", "total"),
        "overdue": pgettext("export column", "overdue"),
        "over_90": pgettext("export column", "over_90"),
        "rate_missing": pgettext("export column", "rate_missing"),
        # audit trail (workflows/audit_trail.py CSV_COLUMNS) and SoD report (workflows/sod_report.py)
        "id": pgettext("export column", "id"),
        "at": pgettext("export column", "at"),
        "actor": pgettext("export column", "actor"),
        "kind": pgettext("export column", "kind"),
        "object": pgettext("export column", "object"),
        "instance_id": pgettext("export column", "instance_id"),
        "task_id": pgettext("export column", "task_id"),
        "before": pgettext("export column", "before"),
        "after": pgettext("export column", "after"),
        "detail": pgettext("export column", "detail"),
        "summary": pgettext("export column", "summary"),
        "requester": pgettext("export column", "requester"),
        "approvers": pgettext("export column", "approvers"),
        "made_by": pgettext("export column", "made_by"),
        "rule": pgettext("export column", "rule"),
        "flagged": pgettext("export column", "flagged"),
        "repeated": pgettext("export column", "repeated"),
    }


def export_header(columns: Sequence[str]) -> list[str]:
    """The header row for a page's download: the ids on an English page, their names on a Chinese one."""
    if page_locale() == "en":
        return list(columns)
    labels = _labels()
    return [labels.get(column, column) for column in columns]
