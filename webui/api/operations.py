"""GET /api/operations: the service operations a diagram's service task may call, from the live handlers."""

from __future__ import annotations

from flask import Response, jsonify
from pydantic import Field

from webui.api import bp, current_actor
from webui.api.openapi import Model, api, responses
from webui.services import services
from workflows.definitions.operation_catalog import describe_operations


class OperationField(Model):
    name: str = Field(examples=["customer_id"])
    type: str = Field(description="the handler's Python type, e.g. int, Decimal | None", examples=["int"])
    required: bool = Field(description="request: the diagram must pass it; result: it is never null")


class ServiceOperation(Model):
    name: str = Field(
        description="as a diagram's spiffworkflow:serviceTaskOperator id names it",
        examples=["credit.load_file"],
    )
    description: str
    moves_money: bool = Field(
        description="a diagram calling it deploys only once a second process owner approves"
    )
    request: list[OperationField]
    result: list[OperationField]


@bp.get("/operations")
@api.validate(resp=responses(200, list[ServiceOperation]))
def get_operations() -> Response:
    """Every service operation by name: its description, request fields (type, required) and result
    fields (anyone with a token: process owners, auditors and the staff whose cases the diagrams run)."""
    current_actor()
    return jsonify(describe_operations(services().rt.operations))
