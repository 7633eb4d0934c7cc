"""A what-if (issue 18) over 100,000 logged approval_authority decisions: wall time.

Seeds `--rows` decision_log rows for credit_application's approval_authority as the engine writes them
(inputs keyed by expression, Decimal as its string): recommended limits as analysts give them, multiples of
5,000 from 10,000 to 2,000,000 (skewed to small limits), grades A-E, 15 % above policy, 1 % without a rate,
spread over 90 days. Then replays approval_authority.dmn with the manager threshold raised from 100,000
to 150,000 through `workflows.what_if.run.what_if`, as POST /api/what-if does.

The replay evaluates each distinct input tuple once (SpiffWorkflow's DMNEngine costs about a
millisecond per evaluation, reported as `ms_per_evaluation`, measured on `--probe` distinct tuples without
the memo); `evaluations` is how many the run needed. Goal: <= 10 s.

The last line printed is JSON: {"rows", "seconds", "rows_per_s", "evaluations", "changed",
"ms_per_evaluation", "seconds_without_memo_estimate", "database"}.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from benchmarks.fresh_db import fresh_database  # noqa: E402
from workflows.engine.decisions import evaluate_decision  # noqa: E402
from workflows.store.db import make_session_factory  # noqa: E402
from workflows.store.decision_log_table import DecisionLogEntry  # noqa: E402
from workflows.what_if.replay import rebuild_data  # noqa: E402
from workflows.what_if.run import what_if  # noqa: E402

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TABLE = (ROOT / "bpmn" / "approval_authority.dmn").read_text(encoding="utf-8")
RAISED = TABLE.replace("&gt; 100000<", "&gt; 150000<")
BATCH = 10_000


def level(inputs: dict[str, Any]) -> str:
    """The shipped table by hand (the seeded outputs are what the engine recorded with it)."""
    limit = Decimal(inputs['recommendation["limit_in_base"]'])
    above = inputs['recommendation["above_policy"]']
    if inputs['recommendation["rate_missing"]'] or limit > 1_000_000:
        return "cfo"
    if limit > 100_000 or inputs["grade"] == "D":
        return "cfo" if above else "manager"
    return "manager" if above else "analyst"


def inputs_of(rng: random.Random) -> dict[str, Any]:
    limit = min(2_000_000, max(10_000, round(rng.lognormvariate(11.5, 0.9) / 5_000) * 5_000))
    return {
        'recommendation["rate_missing"]': rng.random() < 0.01,
        'recommendation["limit_in_base"]': f"{limit}.00",
        "grade": rng.choice("AABBBCCCDE"),
        'recommendation["above_policy"]': rng.random() < 0.15,
    }


def seed(factory: Any, rows: int) -> None:
    rng = random.Random(18)
    with factory() as session, session.begin():
        for first in range(0, rows, BATCH):
            batch = []
            for n in range(first, min(rows, first + BATCH)):
                inputs = inputs_of(rng)
                batch.append(
                    {
                        "instance_id": None,
                        "process_key": "credit_application",
                        "version": 1,
                        "decision_id": "approval_authority",
                        "bpmn_id": "decide_authority",
                        "inputs": inputs,
                        "outputs": {"approval_level": level(inputs)},
                        "rules": [],
                        "at": NOW - timedelta(days=90) + timedelta(seconds=n * 77_760 // max(rows, 1) * 100),
                    }
                )
            session.execute(insert(DecisionLogEntry), batch)


def per_evaluation_ms(probe: int) -> float:
    rng = random.Random(3)
    columns = [
        ('recommendation["rate_missing"]', 'recommendation["rate_missing"]', "boolean"),
        ('recommendation["limit_in_base"]', 'recommendation["limit_in_base"]', "number"),
        ("grade", "grade", "string"),
        ('recommendation["above_policy"]', 'recommendation["above_policy"]', "boolean"),
    ]
    samples = [rebuild_data(columns, inputs_of(rng)) for _ in range(probe)]
    began = time.perf_counter()
    for data in samples:
        evaluate_decision(RAISED, "approval_authority", data)
    return (time.perf_counter() - began) * 1000 / probe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--url", default=None, help="database URL (default: a SQLite file in a temp dir)")
    parser.add_argument("--probe", type=int, default=2_000, help="evaluations timed without the memo")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{tmp}/what_if.db"
        engine = fresh_database(url, NOW)
        factory = make_session_factory(engine)
        seed(factory, args.rows)
        began = time.perf_counter()
        session = factory()
        try:
            answer = what_if(
                session,
                "credit_application",
                {"approval_authority.dmn": RAISED.encode()},
                NOW - timedelta(days=91),
                NOW,
                base="EUR",
                per_page=50,
            )
        finally:
            session.rollback()
            session.close()
        seconds = time.perf_counter() - began
        engine.dispose()
    table = answer["summary"]["tables"][0]
    ms = per_evaluation_ms(args.probe)
    print(json.dumps(table["route_changes"]), file=sys.stderr)
    result = {
        "rows": table["rows"],
        "seconds": round(seconds, 2),
        "rows_per_s": round(table["rows"] / seconds),
        "evaluations": table["evaluated"],
        "changed": table["changed"],
        "ms_per_evaluation": round(ms, 3),
        "seconds_without_memo_estimate": round(table["rows"] * ms / 1000, 1),
        "database": engine.dialect.name,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
