"""The REST API package: every resource module of webui/api is wired into the app under /api."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

API = Path(__file__).resolve().parents[2] / "webui" / "api"


def test_every_api_resource_module_has_routes_under_api(app: Flask) -> None:
    resources = {f"webui.api.{path.stem}" for path in API.glob("*.py") if path.stem != "__init__"}
    wired = {view.__module__ for view in app.view_functions.values()}
    assert resources - wired == set(), "create_app must import these modules so their routes exist"
    for rule in app.url_map.iter_rules():
        if app.view_functions[rule.endpoint].__module__ in resources:
            assert rule.rule.startswith("/api/"), f"{rule.endpoint} is served at {rule.rule}, outside /api"
