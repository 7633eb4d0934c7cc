"""The words a refusal names a handler's request field by, as msgids the catalogue says in each language.

workflows.engine.service_tasks.build_request names a field it cannot convert ("'NaN' is not a finite
number") by its words (field_words: "guarantee_amount" -> "Guarantee amount"), not "<operation>.<field>":
the reader is a credit professional (a starter, a collector) or a diagram's author, and the engine's
refusal log line keeps the operation. Those words are looked up in the catalogue when the sentence is said;
they are written out here so `make messages` extracts them. tests/handlers/test_request_fields.py checks
that every converted field of every registered request type is here (or said by another msgid).
"""

from __future__ import annotations

from workflows.messages import _

REQUEST_FIELD_WORDS = (
    _("Case id"),
    _("Change request id"),
    _("Contract id"),
    _("Countersign days"),
    _("Credit amount"),
    _("Customer id"),
    _("Definition id"),
    _("Dispute id"),
    _("Fee level 1"),
    _("Fee level 2"),
    _("Fee level 3"),
    _("Guarantee amount"),
    _("Industry rating"),
    _("Interest margin points"),
    _("Interest reference rate"),
    _("Level 1 days"),
    _("Level 2 days"),
    _("Level 3 days"),
    _("Level 4 days"),
    _("Max count"),
    _("Max days"),
    _("Min pct"),
    _("New limit"),
    _("Payment terms days"),
    _("Promise grace days"),
    _("Promise id"),
    _("Promised date"),
    _("Revenue cap pct"),
    _("Review months"),
    _("Score valid months"),
    _("Strategic rating"),
    _("Supplier id"),
    _("Valid months"),
)
