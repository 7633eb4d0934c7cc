"""A step that failed on its input (a handler refused the start data, a form or a message): undone, and said
to the person who sent the data in words of their trade; the ids (operation, element) go to the log."""

from __future__ import annotations

import logging
from collections.abc import Callable

from workflows.engine.step import Step
from workflows.errors import Invalid, message_of
from workflows.messages import _

logger = logging.getLogger(__name__)


def refuse_bad_input(step: Step, what: str | Callable[[], str]) -> None:
    """A handler refused data the caller sent (start data, a form, a message): undo the whole step.

    Recording an incident instead would leave the instance in error for good, since a retry runs on the
    same data; the caller can correct it (422) and nothing of the step is kept. The caller reads `what` (or
    what it returns, worked out only on a refusal) and the handler's own sentence, not the operation that
    said it ("contract.open_change failed: …"); the log line keeps the operation and the element.

    Raises:
        Invalid: when the step failed on its input.
    """
    failure = step.failure
    if failure is None or not failure.input_error:
        return
    if callable(what):
        what = what()
    # One line whatever the diagram's names or the typed values hold (a line break, an escape sequence):
    # the sentences as Python literals (repr escapes what is not printable), the ids as they are.
    logger.info(
        "%r (%s, instance %s) refused at element %s: %r",
        str(what),
        step.instance.process_key,
        step.instance.id,
        failure.bpmn_id,
        str(failure),
    )
    # The handler's sentence is a Text when it refused with one: said in the reader's language. A handler
    # that refused without a sentence is not said by its operation's id ("credit.check failed: ").
    said = failure.refusal if failure.refusal is not None else message_of(failure)
    if not said.strip():
        said = _("The data was refused without a reason given.")
    raise Invalid(_("%(where)s: %(problem)s", where=what, problem=said))
