"""Which stored values of a process's case data are our sentences, by the msgids that process stores.

order_release's `reason` is the credit check's English sentence ("over the credit limit: exposure …"); the
same key can hold what a person typed on the start form. said_stored reads a value back against EVERY msgid
of the catalogue, so a typed reason shaped like another of our sentences ('review:overdue', a limit review's
history line) read 额度复核：overdue on zh pages (attack A21). Only the sentences the process stores are said.
"""

from __future__ import annotations

from workflows.credit import roles

# workflows/credit/credit_checks.py: check()'s reasons and block_reason()'s (a test in
# tests/attacks/test_session11_attack.py fails when one of these is no longer a msgid there).
CREDIT_CHECK_REASONS = frozenset(
    {
        "released by %(user)s",
        "order %(order)s is held: a credit manager decides on its release in instance %(instance)s",
        "no exchange rate: %(problem)s; a credit manager decides on the release",
        "over the credit limit: %(numbers)s",
        "within the credit limit: %(numbers)s",
        "%(reason)s; order %(order)s stays open at %(amount)s as approved before",
        "%(reason)s; order %(order)s stays released at %(amount)s (released by %(user)s): check an increase "
        "under a new order reference",
        "customer %(customer)s is blocked (credit block); a credit manager lifts it",
        "customer %(customer)s is blocked: handed over to legal (dunning case %(case)s)",
        "customer %(customer)s is blocked: dunning case %(case)s closed with the legal outcome %(outcome)s; "
        "a credit manager lifts the block",
        "customer %(customer)s is blocked: credit block of dunning case %(case)s (level %(level)s)",
    }
)
PROCESS_SENTENCES = {roles.ORDER_RELEASE: CREDIT_CHECK_REASONS}


def is_process_sentence(process: str | None, msgid: str | None) -> bool:
    """Whether `msgid` (stored_msgid of a value) is a sentence `process` stores in its case data."""
    return msgid is not None and msgid in PROCESS_SENTENCES.get(process or "", frozenset())
