"""Attack: ask for the time inside a script, in a training environment (simulated clock).

Scripts get `date` and `datetime` (for due dates), so `datetime.now(timezone.utc)` worked, and it read
the wall clock (`date.today()` failed the step with "KeyError: __import__"). A diagram computing a
follow-up date from "today" computed it from the real day, not from the simulated one every other
action of the step sees: walk a case 400 days ahead and its script still said today is today. Now both
answer the step's time, in the server and in the script worker, and still build plain values.
"""

from __future__ import annotations

from datetime import timedelta
from xml.sax.saxutils import escape

from sqlalchemy import Engine

from handlers.registry import build_operations
from tests.fixtures.engine.cases import ENGINE_FIXTURES, reload_instance
from workflows.clock import utcnow
from workflows.definitions.deploy import deploy_files
from workflows.engine.runner import start_instance
from workflows.engine.runtime import Runtime
from workflows.settings import Settings
from workflows.store.db import transaction
from workflows.users import SYSTEM


def test_a_script_asking_for_today_gets_the_simulated_day(settings: Settings, db_engine: Engine) -> None:
    later = (utcnow() + timedelta(days=400)).replace(microsecond=0)
    rt = Runtime(
        db_engine, settings.replace("clock", mode="simulated", start=later.isoformat()), build_operations()
    )
    text = (ENGINE_FIXTURES / "scripted.bpmn").read_text()
    script = (
        "stamp = str(datetime.now(timezone.utc).date())\ntoday = str(date.today())\n"
        "typed = isinstance(datetime(2030, 1, 2), datetime) and isinstance(date(2030, 1, 2), date)"
    )
    bpmn = text.replace('risk_band = "standard"', escape(script))
    with transaction(rt.factory) as session:
        deploy_files(
            session, {"scripted.bpmn": bpmn.encode()}, build_operations(), deployed_by="owner1", now=later
        )

    instance = start_instance(rt, "scripted", {}, actor=SYSTEM, now=rt.clock())

    data = reload_instance(rt.factory, instance.id).data
    assert data["stamp"] == data["today"] == later.date().isoformat()  # was the wall clock's day
    assert data["typed"] is True
