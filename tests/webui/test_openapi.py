"""The published API contract: GET /api/openapi.json describes every /api route as the views answer it,
and /api/docs shows it from files this server serves itself."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from tests.helpers import auth
from webui.input_checks import MAX_ID

pytestmark = pytest.mark.usefixtures("shipped")

STATIC = Path(__file__).resolve().parents[2] / "webui" / "static"
DOC_ROUTES = {"/api/openapi.json", "/api/docs"}


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return dict(response.json)


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def schema_of(document: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    name = reference["$ref"].rsplit("/", 1)[1]
    return dict(document["components"]["schemas"][name])


def test_the_document_is_openapi_3_1_that_schemathesis_loads(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    for name, schema in document["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema), name
    loaded = schemathesis.openapi.from_dict(document)
    assert len(list(loaded.get_all_operations())) == len(operations(document))


def test_every_api_route_is_documented_with_each_method(app: Flask, document: dict[str, Any]) -> None:
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") and rule.rule not in DOC_ROUTES:
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            served |= {(path, m.lower()) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    documented = {(path, method) for path, method, _ in operations(document)}
    assert served == documented


def test_every_operation_documents_the_errors_any_call_may_meet(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        codes = set(operation["responses"])
        public = operation.get("security") == []
        expected = {"400", "503"} | (set() if public else {"401"})
        assert expected <= codes, (method, path)
        for code in codes - {"200", "201"}:
            content = operation["responses"][code]["content"]["application/json"]
            assert content["schema"] == {"$ref": "#/components/schemas/Error"}, (method, path, code)
        if "{" in path:
            assert "404" in codes, (method, path)
        if "requestBody" in operation:
            assert "413" in codes, (method, path)
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "`creditflow users token NAME` prints one",
    }
    assert document["security"] == [{"bearer": []}]


def test_path_ids_are_documented_with_the_range_the_routes_take(document: dict[str, Any]) -> None:
    for _path, _method, operation in operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["name"] == "key":
                # A process key (GET /api/process-definitions/{key}/diff) is a name, not an id.
                assert parameter["schema"] == {"type": "string"}
            elif parameter["in"] == "path":
                assert parameter["schema"] == {
                    "type": "integer",
                    "format": "int32",
                    "minimum": 1,
                    "maximum": MAX_ID,
                    "examples": [1],
                }


MONEY = {"type": "string", "pattern": "^-?[0-9]+\\.[0-9]{2}$", "examples": ["1800000.00"]}


def is_money(document: dict[str, Any], spec: dict[str, Any]) -> bool:
    if "$ref" in spec:  # a record of amounts, e.g. one per aging bucket
        fields = schema_of(document, spec)["properties"]
        return all(is_money(document, f) for name, f in fields.items() if name != "customer_id")
    options = [{k: v for k, v in o.items() if k != "title"} for o in spec.get("anyOf", [spec])]
    # A record of amounts that may be null (the aging total when a currency has no rate) counts too.
    return MONEY in options or any("$ref" in o and is_money(document, o) for o in options)


def test_money_goes_out_as_decimal_strings(document: dict[str, Any]) -> None:
    money_fields = {"amount", "open_amount", "credit_limit", "exposure", "fees", "value", "total"}
    seen = 0
    for name, schema in document["components"]["schemas"].items():
        for field, spec in schema.get("properties", {}).items():
            # A KPI's value (Kpi, KpiPoint) is days, percent or hours: a decimal string, but not money.
            if field in money_fields and not name.startswith(("New", "Kpi")) and not name.endswith("Page"):
                assert is_money(document, spec), (name, field, spec)
                seen += 1
    assert seen >= 10
    assert is_money(document, {"$ref": "#/components/schemas/Buckets"})
    assert is_money(document, document["components"]["schemas"]["Customer"]["properties"]["overdue"])


def undocumented(document: dict[str, Any], schema: dict[str, Any], value: Any, where: str) -> list[str]:
    """Keys of `value` that `schema` does not name (responses may carry more than documented)."""
    if "$ref" in schema:
        return undocumented(document, schema_of(document, schema), value, where)
    found: list[str] = []
    for option in schema.get("anyOf", []):
        if option.get("type") != "null" and value is not None:
            found += undocumented(document, option, value, where)
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if key not in schema["properties"]:
                found.append(f"{where}.{key}")
            else:
                found += undocumented(document, schema["properties"][key], item, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for item in value[:3]:
            found += undocumented(document, schema["items"], item, f"{where}[]")
    return found


def test_responses_from_the_demo_data_carry_only_documented_fields(
    client: FlaskClient, demo_tokens: dict[str, str], document: dict[str, Any]
) -> None:
    # Views answer through their response models (a mismatch is a 500 in tests); this catches the other
    # drift: a field a view added without documenting it.
    from workflows.cli.demo import seed_demo, start_demo_cases

    app = client.application
    svc = app.extensions["creditflow"]
    from workflows.store.db import transaction

    with transaction(svc.rt.factory) as session:
        seed_demo(session, svc.clock())
    start_demo_cases(svc.rt, svc.clock())
    checked = []
    for path, method, operation in operations(document):
        if method != "get" or path in DOC_ROUTES or path == "/api/health":
            continue
        concrete = re.sub(r"\{\w+\}", "1", path)
        response = client.get(concrete, headers=auth(demo_tokens["admin"]))
        assert response.status_code in (200, 404), (concrete, response.json)
        if response.status_code == 200:
            schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
            assert undocumented(document, schema, response.json, concrete) == []
            checked.append(concrete)
    assert len(checked) >= 15


def test_query_parameters_are_checked_against_the_document(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    for query in ("page=0", "per_page=x", "customer_id=-3", "grade=Z", "blocked=maybe"):
        response = client.get(f"/api/customers?{query}", headers=auth(demo_tokens["sales1"]))
        if "customer_id" in query:  # not a parameter of this list: ignored
            assert response.status_code == 200
            continue
        assert response.status_code == 400, query
        assert response.json["error"]["message"].startswith("query parameter "), response.json
    assert client.get("/api/tasks?sort=sideways", headers=auth(demo_tokens["sales1"])).status_code == 400
    empty = client.get("/api/customers?page=&grade=", headers=auth(demo_tokens["sales1"]))
    assert empty.status_code == 200 and empty.json["page"] == 1


def test_the_docs_page_uses_only_files_served_here(client: FlaskClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert {"/static/vendor/swagger-ui/swagger-ui-bundle.js", "/static/api-docs.js"} <= set(assets)
    for asset in assets:
        assert (STATIC / asset.removeprefix("/static/")).is_file(), f"{asset}: run `make setup` to vendor it"
        response = client.get(asset)
        response.close()  # a static file is streamed from disk
        assert response.status_code == 200
    script = (STATIC / "api-docs.js").read_text()
    assert "validatorUrl: null" in script  # else Swagger UI sends the document to validator.swagger.io


def test_the_document_and_the_docs_need_no_token(client: FlaskClient) -> None:
    assert client.get("/api/openapi.json").status_code == 200
    assert client.get("/api/docs").status_code == 200
