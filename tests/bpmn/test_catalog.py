"""Shipped diagrams validate; their operations match the handler registry and their lanes are groups."""

from __future__ import annotations

import re

from handlers.registry import build_operations
from workflows.credit.roles import DEMO_USERS
from workflows.definitions.compile import compile_bundle, load_spec
from workflows.definitions.deploy import read_files, validate_files
from workflows.definitions.shipped import shipped_bundles
from workflows.engine.messages import message_rules

# Test modules may register operations of their own; only the shipped handler modules count here.
SHIPPED_PREFIXES = (
    "credit.",
    "notify.",
    "dunning.",
    "limit.",
    "supplier.",
    "contract.",
    "definition.",
    "write_off.",
    "dispute.",
    "order.",
)


def test_every_shipped_diagram_validates_with_its_tables_and_forms() -> None:
    bundles = list(shipped_bundles())
    assert {b[0].stem for b in bundles} >= {"credit_application", "payment_terms_exception"}
    for bundle in bundles:
        validated = validate_files(read_files(bundle), build_operations())
        assert validated.process_ids == [bundle[0].stem]  # file name = process id


def test_every_operation_has_a_handler_and_every_handler_is_used() -> None:
    used = set()
    for bundle in shipped_bundles():
        used |= set(re.findall(r'serviceTaskOperator id="([\w.]+)"', bundle[0].read_text()))
    registered = {name for name in build_operations() if name.startswith(SHIPPED_PREFIXES)}
    assert used == registered


def test_every_lane_is_a_known_group() -> None:
    groups = set(DEMO_USERS.values())
    for bundle in shipped_bundles():
        lanes = set(re.findall(r'<bpmn:lane id="[\w]+" name="([\w]+)"', bundle[0].read_text()))
        assert lanes and lanes <= groups, (bundle[0].name, lanes - groups)


def test_element_ids_are_readable() -> None:
    for bundle in shipped_bundles():
        ids = re.findall(r'<bpmn:\w+ id="([^"]+)"', bundle[0].read_text())
        modeler_defaults = [i for i in ids if re.match(r"(Activity|Gateway|Event|Flow|Lane)_[0-9a-z]{7}$", i)]
        assert not modeler_defaults, bundle[0].name
        assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), bundle[0].name


def test_every_message_a_shipped_diagram_waits_for_names_its_senders_and_schema() -> None:
    groups = set(DEMO_USERS.values())
    seen = {}
    for bundle in shipped_bundles():
        files = read_files(bundle)
        for compiled in compile_bundle(validate_files(files, build_operations())):
            loaded = load_spec(compiled.spec_json)
            names = set(re.findall(r'<bpmn:message id="\w+" name="(\w+)"', bundle[0].read_text()))
            for name in names:
                for rule in message_rules(loaded, name, compiled.process_key, 1):
                    # grade_changed comes from the daily dunning run alone: no group may send it.
                    assert rule.sender_groups or name == "grade_changed", rule
                    assert set(rule.sender_groups) <= groups, rule
                    assert rule.schema_file in files, rule
                    seen[name] = rule.sender_groups
    assert seen == {
        "payment_received": ("finance",),
        "promise_to_pay": ("collections",),
        "dispute": ("collections",),
        "grade_changed": (),
        "supplier_countersigned": ("procurement",),
    }
