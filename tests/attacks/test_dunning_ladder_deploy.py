"""A process owner's dunning_policy.dmn with a ladder a case cannot climb (negative days, levels that fall
back) or promise limits that limit nothing is refused when deployed, not found out on a customer."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from handlers.registry import build_operations
from tests.collections_desk import Collections
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.definitions.validation import InvalidBundle
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")


@pytest.mark.parametrize(
    ("cell", "value", "said"),
    [
        ("ladder_c_out1", "-5", "grade 'C': level days [-5, 14, 25, 45]"),  # dunning before the due date
        ("ladder_d_e_out3", "5", "grade 'D': level days [1, 7, 5, 30]"),  # level 3 before level 2
        ("ladder_a_b_out6", 'Decimal("250")', "grade 'A': promise_min_pct must be from 0 to 100"),
        ("ladder_c_out7", "-1", "grade 'C': promise_max_count must be a whole number of 0 or more"),
    ],
)
def test_a_process_owner_cannot_deploy_a_ladder_that_falls_back_or_starts_before_the_due_date(
    desk: Collections, cell: str, value: str, said: str
) -> None:
    [bundle] = [b for b in shipped_bundles() if b[0].name == "dunning.bpmn"]
    files = read_files(bundle)
    text = files["dunning_policy.dmn"].decode()
    entry = re.compile(rf'(<outputEntry id="{cell}"><text>)[^<]*(</text>)')
    assert entry.search(text), cell
    files["dunning_policy.dmn"] = entry.sub(rf"\g<1>{value}\g<2>", text).encode()
    factory = desk.client.application.extensions["creditflow"].rt.factory
    with transaction(factory) as session, pytest.raises(InvalidBundle) as refused:
        deploy_files(session, files, build_operations(), deployed_by="process_owner1", now=desk.clock.now)
    assert said in str(refused.value)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        # No rule for any other currency: a USD or CHF customer's case would find no fees when it opens.
        (
            lambda t: re.sub(r'<rule id="charges_other">.*?</rule>', "", t, flags=re.S),
            "currency USD: no rule",
        ),
        (
            lambda t: t.replace(
                '<outputEntry id="charges_gbp_out2"><text>Decimal("40.00")',
                '<outputEntry id="charges_gbp_out2"><text>Decimal("-40.00")',
            ),
            "currency GBP: fee_level_2 must be an amount of 0 or more",
        ),
        (
            lambda t: t.replace(
                '<outputEntry id="charges_eur_out2"><text>Decimal("40.00")',
                '<outputEntry id="charges_eur_out2"><text>Decimal("40.005")',
            ),
            "currency EUR: fee_level_2 must be an amount",
        ),
        # A currency no fixed probe covers is still checked, because the table names it.
        (
            lambda t: t.replace('== "CNY"', '== "JPY"').replace(
                '<outputEntry id="charges_cny_out2"><text>Decimal("50.00")',
                '<outputEntry id="charges_cny_out2"><text>Decimal("-50.00")',
            ),
            "currency JPY: fee_level_2 must be an amount of 0 or more",
        ),
    ],
)
def test_a_charges_table_must_answer_every_currency_in_amounts(
    desk: Collections, change: Callable[[str], str], said: str
) -> None:
    [bundle] = [b for b in shipped_bundles() if b[0].name == "dunning.bpmn"]
    files = read_files(bundle)
    text = files["dunning_charges.dmn"].decode()
    changed = change(text)
    assert changed != text
    files["dunning_charges.dmn"] = changed.encode()
    factory = desk.client.application.extensions["creditflow"].rt.factory
    with transaction(factory) as session, pytest.raises(InvalidBundle) as refused:
        deploy_files(session, files, build_operations(), deployed_by="process_owner1", now=desk.clock.now)
    assert said in str(refused.value)
