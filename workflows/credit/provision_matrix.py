"""The provision matrix (bpmn/provision_matrix.dmn) as deployed: days past due -> bucket and rate.

The table is read from the newest active dunning version that carries it, not from bpmn/ on disk: a
process owner changes the rates by deploying, and dunning moves money, so a version deployed by a person
waits for a second process owner's approval before its matrix counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.credit import roles
from workflows.definitions.decision_tables import output_values
from workflows.engine.decisions import DecisionError, evaluate_decision
from workflows.errors import Conflict, message_of
from workflows.messages import Text, _
from workflows.store.models import DefinitionStatus, Deployment, ProcessDefinition

MATRIX_FILE, MATRIX_DECISION = "provision_matrix.dmn", "provision_matrix"
MATRIX_PROCESS = roles.DUNNING


class MatrixError(Conflict):
    """No usable provision matrix is deployed, or it gives no bucket and rate for a receivable."""


@dataclass
class Matrix:
    text: str
    source: str  # "provision_matrix.dmn of dunning v3"
    buckets: tuple[str, ...]  # in the table's order
    _cache: dict[int, tuple[str, Decimal]] = field(default_factory=dict, repr=False)

    def rate_for(self, days_past_due: int) -> tuple[str, Decimal]:
        """(bucket, rate) of a receivable so many days past due (0 or less: not due).

        Raises:
            MatrixError: the table fails, matches no row, or gives a bucket or rate it should not.
        """
        found = self._cache.get(days_past_due)
        if found is None:
            found = self._cache[days_past_due] = self._evaluate(days_past_due)
        return found

    def _evaluate(self, days: int) -> tuple[str, Decimal]:
        try:
            result = evaluate_decision(self.text, MATRIX_DECISION, {"days_past_due": days})
        except DecisionError as exc:
            raise MatrixError(
                _("%(source)s: %(problem)s", source=self.source, problem=message_of(exc))
            ) from exc
        bucket, rate = result.get("bucket"), _decimal(result.get("rate"))
        if not isinstance(bucket, str) or bucket not in self.buckets:
            raise MatrixError(
                _(
                    "%(source)s gives bucket %(bucket)r for %(days)s days past due; each row names one "
                    "bucket (%(buckets)s): fix the table and deploy it with dunning",
                    source=self.source,
                    bucket=bucket,
                    days=days,
                    buckets=", ".join(self.buckets),
                )
            )
        if rate is None or not Decimal(0) <= rate <= Decimal(1):
            raise MatrixError(
                _(
                    "%(source)s gives rate %(rate)r for %(days)s days past due; a rate is a "
                    'decimal fraction from 0 to 1 such as Decimal("0.02")',
                    source=self.source,
                    rate=result.get("rate"),
                    days=days,
                )
            )
        return bucket, rate


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        return None  # a float is refused: money rates are exact
    result = Decimal(value)
    return result if result.is_finite() else None


def deployed_matrix(session: Session, as_of: date | None = None) -> Matrix:
    """The provision matrix of the newest active dunning version that carries provision_matrix.dmn and was
    in force at the end of `as_of` (active from its approval, or its deployment when none was needed); a
    month end posted late keeps the rates of that month end, not of a table approved since. With none in
    force by then (history before the first deployment), the oldest one. Without `as_of`: the newest.

    Raises:
        MatrixError: no active dunning version carries one.
    """
    return matrix_in_force(matrix_versions(session), as_of)


MatrixVersion = tuple[int, str, datetime]  # (dunning version, the table's text, in force since)


def matrix_versions(session: Session) -> list[MatrixVersion]:
    """The active dunning versions that carry provision_matrix.dmn, newest first (one query), for
    matrix_in_force to pick from for as many days as needed.

    Raises:
        MatrixError: no active dunning version carries one.
    """
    rows = session.execute(
        select(
            ProcessDefinition.version,
            Deployment.files,
            func.coalesce(ProcessDefinition.decided_at, ProcessDefinition.deployed_at),
        )
        .join(Deployment, Deployment.id == ProcessDefinition.deployment_id)
        .where(
            ProcessDefinition.process_key == MATRIX_PROCESS,
            ProcessDefinition.status == DefinitionStatus.ACTIVE,
        )
        .order_by(ProcessDefinition.version.desc())
    ).all()
    carrying = [
        (v, f[MATRIX_FILE], since) for v, f, since in rows if isinstance((f or {}).get(MATRIX_FILE), str)
    ]
    if not carrying:
        raise MatrixError(
            _(
                "no active %(process)s version carries %(file)s: deploy it with the dunning diagram "
                "(`creditflow init` does) before provisions can be computed",
                process=MATRIX_PROCESS,
                file=MATRIX_FILE,
            )
        )
    return carrying


def matrix_in_force(carrying: list[MatrixVersion], as_of: date | None = None) -> Matrix:
    """The matrix of `carrying` (matrix_versions) in force at the end of `as_of`, as deployed_matrix."""
    end = None if as_of is None else datetime.combine(as_of, time.max, tzinfo=UTC)
    in_force = [c for c in carrying if end is None or _aware(c[2]) <= end]
    version, text, _since = in_force[0] if in_force else carrying[-1]
    buckets = tuple(v.strip().strip('"') for v in output_values(text, MATRIX_DECISION, "bucket") if v.strip())
    return Matrix(
        text,
        _("%(file)s of %(process)s v%(version)s", file=MATRIX_FILE, process=MATRIX_PROCESS, version=version),
        buckets,
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# The input entries compare days with integer constants; between two of them every row answers alike, so
# the days around each constant (and far past the last) are every answer the table can give.
_DAY_CONSTANT = re.compile(r"-?[0-9]+")
_FAR = 36500  # a hundred years past due


def matrix_problems(text: str) -> list[str]:
    """What makes a provision matrix unusable, checked when it is deployed (a run would only find out
    on the month end with a receivable in the bad row, or never): every day past due must fall in one of
    the table's buckets, in the table's order, each bucket one range of days, at a rate from 0 to 1 that
    never falls as receivables age. Empty when the table is sound."""
    try:
        buckets = tuple(
            v.strip().strip('"') for v in output_values(text, MATRIX_DECISION, "bucket") if v.strip()
        )
    except Exception as exc:  # noqa: BLE001 - any parse failure is the deployer's to fix
        return [
            _("the %(decision)s decision cannot be read: %(problem)s", decision=MATRIX_DECISION, problem=exc)
        ]
    matrix = Matrix(text, MATRIX_FILE, buckets)
    constants = {int(c) for c in _DAY_CONSTANT.findall(" ".join(_input_entries(text)))}
    days = sorted({d for c in constants | {0} for d in (c - 1, c, c + 1)} | {_FAR})
    problems: list[str] = []
    seen: list[str] = []
    last_rate: Decimal | None = None
    for day in days:
        try:
            bucket, rate = matrix.rate_for(day)
        except MatrixError as exc:
            said = exc.message  # "provision_matrix.dmn: <the table's failure>": the failure alone
            inner = (
                said.params.get("problem")
                if isinstance(said, Text) and said.startswith(MATRIX_FILE + ": ")
                else None
            )
            problems.append(inner if isinstance(inner, str) else said)
            continue
        if seen and bucket != seen[-1]:
            if bucket in seen or buckets.index(bucket) < buckets.index(seen[-1]):
                problems.append(
                    _(
                        "%(days)s days past due falls in %(bucket)s again after %(before)s: each bucket "
                        "is one range of days, in the table's order",
                        days=day,
                        bucket=bucket,
                        before=seen[-1],
                    )
                )
        if not seen or bucket != seen[-1]:
            seen.append(bucket)
        if last_rate is not None and rate < last_rate:
            problems.append(
                _(
                    "the rate falls from %(before)s to %(rate)s at %(days)s days past due (%(bucket)s): "
                    "an older receivable is never provided for at a lower rate",
                    before=last_rate,
                    rate=rate,
                    days=day,
                    bucket=bucket,
                )
            )
        last_rate = rate
    twice = sorted({b for b in buckets if buckets.count(b) > 1})
    if twice:
        problems.append(_("bucket %(buckets)s is named by more than one row", buckets=", ".join(twice)))
    never = [b for b in buckets if b not in seen and b not in twice]
    if never and not problems:
        problems.append(
            _(
                "no day past due reaches %(buckets)s: an earlier row takes all of its days",
                buckets=", ".join(never),
            )
        )
    return list(dict.fromkeys(problems))


def _input_entries(text: str) -> list[str]:
    return re.findall(r"<inputEntry[^>]*>\s*<text>([^<]*)</text>", text)
