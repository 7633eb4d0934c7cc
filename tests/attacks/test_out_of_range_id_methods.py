"""An id no route takes is a 404 whatever the method. Werkzeug checks a rule's method before its converters,
so a POST to /api/customers/<id above MAX_ID>/collateral answered 405 "allowed: GET" (an undocumented status,
found by schemathesis in a CI dry run) while the GET answered 404."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.helpers import auth


@pytest.mark.parametrize("path", ["/api/customers/2648196797/collateral", "/api/customers/0/collateral"])
def test_a_post_to_an_id_no_route_takes_is_404_not_405(
    client: FlaskClient, demo_tokens: dict[str, str], path: str
) -> None:
    response = client.post(path, json={}, headers=auth(demo_tokens["analyst1"]))
    assert response.status_code == 404, response.json
    assert client.get(path, headers=auth(demo_tokens["analyst1"])).status_code == 404


def test_a_method_the_path_does_not_take_is_still_405(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    response = client.delete("/api/customers", headers=auth(demo_tokens["analyst1"]))
    assert response.status_code == 405
