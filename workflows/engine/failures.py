"""How a step fails inside the engine: the error types that carry the BPMN element they failed on."""

from __future__ import annotations


class EngineError(Exception):
    """A step failed inside the engine; carries the BPMN element it failed on."""

    def __init__(
        self, message: str, bpmn_id: str = "", *, input_error: bool = False, refusal: str | None = None
    ) -> None:
        super().__init__(message)
        self.bpmn_id = bpmn_id
        # True when a handler refused the data it was given (not a technical failure worth retrying).
        self.input_error = input_error
        # The handler's own sentence when it refused its input (a Text): what the person who sent the data
        # reads, without the operation's id that the message (for logs and incidents) puts before it.
        self.refusal = refusal if input_error else None

    def placed(self, bpmn_id: str) -> EngineError:
        """A new failure like this one (its message kept as given: a Text stays one), at `bpmn_id` when this
        one names no element."""
        return EngineError(
            self.args[0], self.bpmn_id or bpmn_id, input_error=self.input_error, refusal=self.refusal
        )


class LoopLimitExceeded(EngineError):
    """The task tree grew past the configured depth; SpiffWorkflow would otherwise stall silently."""


class NotWaiting(EngineError):
    """The instance has no catch event for this message."""
