"""The reasons our code writes into a customer's limit history (`LimitChange.reason`, plain text).

Each is a catalogue msgid (workflows.messages._): stored as its English sentence, said in the reader's
language on pages by webui/stored_sentences.said_stored. The ERP migration import writes the first two (the
first, without the file, is what older rows hold); the shipped diagrams pass the others to credit.change_limit
(credit_application.bpmn, and credit_limit_review.bpmn with the analyst's typed reason after "review:").
"""

from __future__ import annotations

from workflows.messages import _

LIMIT_REASONS = (
    _("migrated from ERP"),
    _("migrated from ERP: %(source)s"),
    _("credit application"),
    _("review:%(reason)s"),
)


def migrated(source: str) -> str:
    """The reason of a limit taken over by the ERP migration import from the file `source`."""
    return str(_("migrated from ERP: %(source)s", source=source))
