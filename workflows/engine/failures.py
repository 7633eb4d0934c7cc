"""How a step fails inside the engine: the error types that carry the BPMN element they failed on."""

from __future__ import annotations


class EngineError(Exception):
    """A step failed inside the engine; carries the BPMN element it failed on."""

    def __init__(self, message: str, bpmn_id: str = "", *, input_error: bool = False) -> None:
        super().__init__(message)
        self.bpmn_id = bpmn_id
        # True when a handler refused the data it was given (not a technical failure worth retrying).
        self.input_error = input_error


class LoopLimitExceeded(EngineError):
    """The task tree grew past the configured depth; SpiffWorkflow would otherwise stall silently."""


class NotWaiting(EngineError):
    """The instance has no catch event for this message."""
