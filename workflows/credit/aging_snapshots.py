"""The dashboard's aging history with past month ends read from their provision snapshot: the monthly
provision run (workflows/credit/provision_snapshots.py) stores the receivables open at a month end per
matrix bucket and currency, with each line's balance in the base currency at the month end's rate. Summed
into the aging buckets they are the aging at that month end as posted; an invoice corrected later does not
change it (the rule the KPI snapshots follow, docs/kpis.md). Month ends without a usable snapshot, and the
day asked for, are computed from the ledger (aging_history.aging_history), as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit.aging_history import (
    ZERO,
    AgingPoint,
    Exposures,
    aging_history,
    chart_days,
    top_exposures,
)
from workflows.credit.dashboard_balances import balance_views
from workflows.credit.kpi_cache import cached
from workflows.credit.provision_matrix import Matrix, MatrixError, deployed_matrix
from workflows.credit.provision_tables import ProvisionRun, ProvisionRunLine
from workflows.credit.provisions import BUCKETS, MATRIX
from workflows.messages import _

# The last day past due of each aging bucket but the last (BUCKETS: not due, 1-30, 31-60, 61-90, 91-120).
BUCKET_EDGES = (0, 30, 60, 90, 120)


def matrix_bucket_map(matrix: Matrix) -> dict[str, str] | None:
    """Each provision-matrix bucket's aging bucket (BUCKETS), or None when a matrix bucket straddles an
    aging bucket's edge (its lines cannot be split). The matrix's buckets are contiguous ranges of days in
    the table's order (provision_matrix.matrix_problems refuses others at deployment), so a matrix bucket
    lies within days <= e exactly when its index is at most that of the bucket of e days past due."""
    order = {b: i for i, b in enumerate(matrix.buckets)}
    try:
        at = {d: order[matrix.rate_for(d)[0]] for e in BUCKET_EDGES for d in (e, e + 1)}
    except (MatrixError, KeyError):
        return None
    if any(at[e] >= at[e + 1] for e in BUCKET_EDGES):
        return None
    return {b: BUCKETS[sum(1 for e in BUCKET_EDGES if i > at[e])] for i, b in enumerate(matrix.buckets)}


def snapshot_points(session: Session, days: Sequence[date], base: str) -> dict[date, AgingPoint]:
    """The aging at those of `days` that have a provision snapshot (workflows/credit/provision_snapshots.py)
    it can be read from: its matrix lines' balances in the base currency (converted at the month end's
    rate when the run was posted, each line to the cent), summed into the aging buckets. History as posted:
    an invoice corrected later does not change it (as the KPI snapshots, docs/kpis.md).

    A snapshot is left out (the day is computed live) when it is in another base currency, when it has
    specific provisions (their customers' balances are one line per customer, not by bucket), or when its
    matrix is no longer deployed under the name it records or has a bucket straddling an aging bucket's
    edge."""
    runs = session.scalars(
        select(ProvisionRun).where(ProvisionRun.as_of.in_(list(days)), ProvisionRun.base_currency == base)
    ).all()
    if not runs:
        return {}
    lines: dict[int, list[tuple[str, str, Decimal]]] = {}
    for run_id, kind, bucket, balance_base in session.execute(
        select(
            ProvisionRunLine.run_id,
            ProvisionRunLine.kind,
            ProvisionRunLine.bucket,
            ProvisionRunLine.balance_base,
        ).where(ProvisionRunLine.run_id.in_([run.id for run in runs]))
    ):
        lines.setdefault(run_id, []).append((kind, bucket, balance_base))
    maps: dict[str, dict[str, str] | None] = {}
    points = {}
    for run in runs:
        run_lines = lines.get(run.id, [])
        if any(kind != MATRIX for kind, _, _ in run_lines):
            continue
        if run.matrix not in maps:
            try:
                matrix = deployed_matrix(session, run.as_of)
            except MatrixError:
                maps[run.matrix] = None
            else:
                maps[run.matrix] = matrix_bucket_map(matrix) if matrix.source[:120] == run.matrix else None
        mapping = maps[run.matrix]
        if mapping is None or any(bucket not in mapping for _, bucket, _ in run_lines):
            continue
        buckets = dict.fromkeys(BUCKETS, ZERO)
        for _kind, bucket, balance_base in run_lines:
            buckets[mapping[bucket]] += balance_base
        # A Text: the English note, and its parts for a page that says it in another language
        # (webui/decision_sources.snapshot_title).
        label = _(
            "the provision run of %(day)s (%(matrix)s), posted by %(name)s",
            day=run.as_of.isoformat(),
            matrix=run.matrix,
            name=run.posted_by,
        )
        points[run.as_of] = AgingPoint(run.as_of, buckets, [], label)
    return points


def aging_with_snapshots(
    session: Session, days: Sequence[date], base: str, last: AgingPoint | None = None
) -> list[AgingPoint]:
    """The aging at each of `days` (ascending): the days before the last with a usable provision snapshot
    read from it (snapshot_points), the others (and the last day, the day asked for) computed live; the
    last day's point is `last` when given (read from the maintained balances, dashboard_balances.py)."""
    snapped = snapshot_points(session, list(days)[:-1], base)
    if last is not None:
        snapped[last.day] = last
    live = [d for d in days if d not in snapped]
    computed = {p.day: p for p in aging_history(session, live, base)} if live else {}
    return [snapped.get(d) or computed[d] for d in days]


def dashboard_views(session: Session, as_of: date, base: str) -> tuple[list[AgingPoint], Exposures]:
    """The dashboard's aging history (chart_days of `as_of`, past month ends from their provision snapshot
    where there is one; the day itself from the maintained balances when rolled for it) and top exposures,
    computed once and kept until
    the book changes (workflows/credit/kpi_cache.py: per engine, under the book's fingerprint, at most
    TTL_SECONDS). Callers must not change what they get."""
    answer = cached(session, ("dashboard_aging", as_of, base), lambda: _views(session, as_of, base))
    return answer["points"], answer["exposures"]


def _views(session: Session, as_of: date, base: str) -> dict[str, Any]:
    """The day asked for read from the maintained balances when they hold it (dashboard_balances.py: the
    same answer in a few index reads), else from the ledger."""
    fast = balance_views(session, as_of, base)
    last, exposures = fast if fast is not None else (None, None)
    return {
        "points": aging_with_snapshots(session, chart_days(as_of), base, last),
        "exposures": exposures if exposures is not None else top_exposures(session, as_of, base),
    }
