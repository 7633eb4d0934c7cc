"""Attack: deploy a money-moving diagram in a training environment (simulated clock) and wait.

Deploy queues the definition approval as a timer due at the deploy's time; the timer sweep fires a
timer only once its time has passed. On a simulated clock standing still, that time never passed: no
approval task reached the second process owner, tick after tick, until somebody moved the clock.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.definitions.test_definition_approval import approval_task, grant_bundle, owner2, upload
from tests.helpers import auth
from tests.webui.test_simulated_clock import START
from webui import create_app
from workflows.settings import Settings

__all__ = ["owner2"]  # a fixture of this module's test

pytestmark = pytest.mark.usefixtures("shipped")


@pytest.fixture
def simulated(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings.replace("clock", mode="simulated", start=START.isoformat()))
    app.config["TESTING"] = True
    yield app
    app.extensions["creditflow"].engine.dispose()


def test_a_queued_approval_starts_on_the_next_tick_of_a_standing_simulated_clock(
    simulated: Flask, demo_tokens: dict[str, str], owner2: str
) -> None:
    client = simulated.test_client()
    deployed = upload(client, demo_tokens["owner1"], grant_bundle("grant_standing"))
    assert deployed.status_code in (200, 201), deployed.json

    ticked = client.post("/api/admin/tick", json={}, headers=auth(demo_tokens["admin"]))

    assert ticked.status_code == 200, ticked.json
    assert ticked.json is not None and ticked.json["timers"] == 1
    assert approval_task(client, owner2, "grant_standing", 1)["process_key"] == "definition_approval"
