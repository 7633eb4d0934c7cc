"""The REST API's contract: GET /api/openapi.json (OpenAPI 3.1) and /api/docs (Swagger UI, served locally).

The document is generated from the views (spectree): each is decorated with `api.validate(...)`, naming
the pydantic models of its query parameters, request body and responses. Query parameters are checked
against their model before the view runs (400 naming the parameter) and the view reads them from it.
Request bodies are checked by the domain's parsers, which name every bad field (422), so their models here
describe them without a second check. Responses are checked against their models in tests (a mismatch is a
500) and where CREDITFLOW_VALIDATE_RESPONSES=1 is set (a mismatch is a logged error; the response still goes
out). Elsewhere they go out unchecked: checking a page of 50 tasks with their form schemas cost 1-6 ms of
a 10-20 ms GET /api/tasks at 100,000 open tasks (issue 19).
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any

from flask import Flask, Response, current_app, jsonify, make_response, render_template, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator
from spectree import Response as Responses
from spectree import SpecTree
from spectree.plugins.base import Context
from spectree.plugins.flask_plugin import FlaskPlugin
from spectree.utils import get_multidict_items

from webui.api import bp
from webui.input_checks import MAX_ID
from webui.pydantic_said import said as pydantic_said
from webui.services import MAX_PAGE
from workflows.credit.record_fields import FieldSpec
from workflows.errors import BadRequest, one_after_another
from workflows.languages import LANGUAGES
from workflows.messages import _

logger = logging.getLogger(__name__)

# --- shared shapes -------------------------------------------------------------------------------------

# Money goes out as a decimal string with two places; it comes in as one, or as an exact JSON number.
Money = Annotated[str, Field(pattern=r"^-?[0-9]+\.[0-9]{2}$", examples=["1800000.00"])]
MoneyInput = Annotated[
    str | int,
    Field(
        description="A decimal string with at most two places (a JSON number is accepted too)",
        examples=["1800000.00"],
        json_schema_extra={
            "anyOf": [{"type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]{1,2})?\s*$"}, {"type": "number"}]
        },
    ),
]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Timestamp = datetime  # UTC, ISO 8601 with offset (2026-03-02T09:00:00+00:00)
Day = date
JsonObject = dict[str, Any]


class Model(BaseModel):
    """A response body: the documented fields are checked; fields added later pass until documented."""

    model_config = ConfigDict(extra="allow")


class Body(BaseModel):
    """A request body as the domain's parser reads it (checked there, not here)."""

    model_config = ConfigDict(extra="allow")


_LANGUAGE_CODES: list[Any] = sorted(LANGUAGES)  # the "language" kind's enum (list[Any]: pydantic's JsonValue)

# The JSON Schema of each kind of record field (workflows/credit/record_fields.py): what its parser takes.
_FIELD_KINDS: dict[str, Any] = {
    "text": Annotated[str, Field(max_length=200, examples=["Example Trading Ltd"])],
    "email": Annotated[
        str, Field(max_length=200, examples=["ap@example.com"], json_schema_extra={"format": "email"})
    ],
    "currency": Annotated[str, Field(pattern="^[A-Z]{3}$", examples=["EUR"])],
    "year": Annotated[int, Field(ge=1800, examples=[1999])],
    "money": MoneyInput,
    "ratio": Annotated[MoneyInput, Field(examples=["1.20"])],
    "date": Annotated[date, Field(examples=["2026-06-30"])],
    "id": Annotated[Id, Field(examples=[1])],
    "count": Annotated[int, Field(ge=0, le=MAX_ID, examples=[0])],
    "percent": Annotated[int, Field(ge=0, le=100, examples=[95])],
    "days": Annotated[int, Field(ge=0, le=365, examples=[30])],
    "rating": Annotated[str, Field(max_length=10, examples=["BBB+"])],
    "terms": Annotated[dict[str, Any], Field(examples=[{"price": "EUR 820 per tonne"}])],
    "flag": bool,
    # en or zh (any case; workflows.languages): the parser names the languages when refusing another.
    "language": Annotated[str, Field(examples=["zh"], json_schema_extra={"enum": _LANGUAGE_CODES})],
}


def fields_body(name: str, specs: Mapping[str, FieldSpec]) -> type[BaseModel]:
    """The request body of a record whose fields `parse_fields` checks: generated from the same specs."""
    fields: dict[str, Any] = {}
    for field, spec in specs.items():
        kind = _FIELD_KINDS[spec.kind]
        if spec.text_limit is not None:
            kind = Annotated[kind, Field(max_length=spec.text_limit)]
        fields[field] = (kind, ...) if spec.required else (kind | None, None)
    model: type[BaseModel] = create_model(name, __config__=ConfigDict(extra="forbid"), **fields)
    return model


class Query(BaseModel):
    """Query parameters; an empty value counts as absent, unknown parameters are ignored."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _drop_empty(cls, values: Any) -> Any:
        if isinstance(values, dict):
            return {k: v for k, v in values.items() if v not in ("", None)}
        return values


class PageQuery(Query):
    page: int = Field(1, ge=1, le=MAX_PAGE, description="1 is the first page")
    per_page: int = Field(50, ge=1, le=MAX_PAGE, description="at most 200 rows are returned per page")


class Page(Model):
    total: int = Field(ge=0)
    page: int = Field(ge=1)
    per_page: int = Field(ge=1)


class ErrorDetail(Model):
    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["customer 7 does not exist"])
    fields: dict[str, str] | None = Field(None, description="422: each bad field and what is wrong with it")


class Error(Model):
    """Every error: `{"error": {"code", "message"}}`; 422 adds `fields` (name -> what is wrong)."""

    error: ErrorDetail


ERRORS = {
    400: "The request is malformed: bad JSON, a bad query parameter, NUL or unpaired surrogates in text, "
    "JSON nested too deep, an integer beyond 64 bits",
    401: "No bearer token, or an unknown one",
    403: "The caller's groups may not do this",
    404: "No such record, or one the caller may not see",
    409: "The record changed meanwhile (already completed, claimed by another, a duplicate number)",
    413: "The request body is larger than 16 MB",
    422: "The data breaks a rule; `error.fields` names each bad field",
    503: "The database is busy: send the request again after `Retry-After` seconds",
}
ALWAYS = (400, 401, 503)  # any request may be malformed, unauthenticated or meet a busy database


def responses(status: int, model: Any, *errors: int, public: bool = False) -> Responses:
    """The responses of one operation: `status` with `model`, the errors named, and those of every call."""
    codes: dict[str, Any] = {f"HTTP_{status}": model}
    for code in sorted({*errors, *ALWAYS} - ({401} if public else set())):
        codes[f"HTTP_{code}"] = (Error, ERRORS[code])
    return Responses(**codes)


# --- spectree, bent to the contract's errors -------------------------------------------------------------


class _Plugin(FlaskPlugin):
    def request_validation(
        self, req: Any, query: Any, json: Any, form: Any, headers: Any, cookies: Any
    ) -> None:
        req.context = Context(_checked_query(query) if query else None, None, None, None, None)

    def validate_response(
        self, resp: Any, resp_model: Any, skip_validation: bool, force_resp_serialize: bool
    ) -> tuple[Any, Any]:
        if not current_app.testing and os.environ.get("CREDITFLOW_VALIDATE_RESPONSES") != "1":
            return make_response(resp), None  # as the view answered (see the module's docstring)
        if isinstance(resp, Response) and resp.mimetype == "text/csv":
            skip_validation = True  # a CSV export (`format=csv`) is not the JSON its model describes
        response, error = super().validate_response(resp, resp_model, skip_validation, force_resp_serialize)
        if error is not None and not current_app.testing:
            # The document is wrong, not the caller: say so in the log and still answer.
            logger.error(
                "%s %s: the response does not match the API document: %s", request.method, request.path, error
            )
            return make_response(resp), None
        return response, error

    def get_func_operation_id(self, func: Any, path: str, method: str) -> str:
        return str(func.__name__)


def _checked_query(model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(get_multidict_items(request.args, model))
    except ValidationError as exc:
        # pydantic's sentence said by its error type (webui/pydantic_said.py), in the caller's language.
        problems = one_after_another(
            [
                _(
                    "query parameter %(name)s: %(problem)s",
                    name=".".join(str(p) for p in e["loc"]) or "?",
                    problem=pydantic_said(e),
                )
                for e in exc.errors()
            ]
        )
        raise BadRequest(problems) from exc


api = SpecTree(
    backend=_Plugin,
    mode="strict",  # only decorated views; tests/webui/test_openapi.py checks every /api route is one
    title="creditflow REST API",
    version="1",
    path="api/docs",
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
    validation_error_status=400,
    validation_error_model=Error,
    security={"bearer": []},
)

DESCRIPTION = """\
JSON over HTTP. Every call but `/api/health` needs `Authorization: Bearer TOKEN`
(`creditflow users token NAME` prints one). Errors are `{"error": {"code": ..., "message": ...}}`.
Amounts are decimal strings with two places (`"1800000.00"`); times are UTC, ISO 8601 with offset.
"""


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of the app's API, built once per app (from its routes, so in an app context)."""
    found: dict[str, Any] | None = app.extensions.get("openapi")
    if found is None:
        with app.app_context():
            found = _finish(copy.deepcopy(api.spec))
        app.extensions["openapi"] = found
    return found


def _finish(spec: dict[str, Any]) -> dict[str, Any]:
    spec["info"]["description"] = DESCRIPTION
    tags = set()
    for path, operations in spec["paths"].items():
        tag = path.split("/")[2]
        tags.add(tag)
        for operation in operations.values():
            operation["tags"] = [tag]
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                if parameter["in"] == "path" and schema.get("type") == "integer":
                    # The `<int:...>` converter's range; the example is the demo data's first record.
                    schema.update(minimum=1, maximum=MAX_ID, examples=[1])
                # An optional query parameter is absent or has a value; it cannot be JSON null.
                options = [s for s in schema.pop("anyOf", []) if s != {"type": "null"}]
                if len(options) == 1:
                    schema.update(options[0])
                elif options:
                    schema["anyOf"] = options
                if parameter["name"] == "format" and "csv" in schema.get("enum", ()):
                    # `format=csv` answers the same list as a CSV file (webui/api/audit.py).
                    content = operation["responses"]["200"].setdefault("content", {})
                    content["text/csv"] = {"schema": {"type": "string"}}
    spec["tags"] = [{"name": tag} for tag in sorted(tags)]
    spec["components"]["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "`creditflow users token NAME` prints one",
        }
    }
    return spec


# --- the document and its page ---------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI 3.1 document of this API (no token needed)."""
    return jsonify(document(current_app))


@bp.get("/docs")
def docs_page() -> str:
    """The document in Swagger UI, from files this server serves (no token needed)."""
    return render_template("api/docs.html")
