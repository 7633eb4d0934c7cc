"""Domain errors: each names the object involved and maps to one HTTP status of the public contract."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.messages import _


class InputError(ValueError):
    """Data handed to a step (start data, handler parameters) cannot be used: the caller must fix it."""


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})


class BadRequest(DomainError):
    status, code = 400, "bad_request"


class Unauthorized(DomainError):
    status, code = 401, "unauthorized"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class NotFound(DomainError):
    status, code = 404, "not_found"


class Conflict(DomainError):
    status, code = 409, "conflict"


class Invalid(DomainError):
    """Submitted data breaks the form's schema; `details["fields"]` maps field name -> message."""

    status, code = 422, "invalid"


def field_listing(fields: Mapping[str, str]) -> str:
    """The fields' messages as one sentence, "field: message; field: message" (an Invalid's message). Each
    part is a workflows.messages.Text holding the next, so a reader in another language gets every message
    translated; the field names are the contract's ids and stay as they are."""
    return one_after_another(
        [_("%(field)s: %(message)s", field=name, message=message) for name, message in fields.items()]
    )


def one_after_another(parts: list[str]) -> str:
    """Sentences as one, "first; second; third", each translated on its own (a Text holding the next)."""
    if not parts:
        return ""
    listing = parts[-1]
    for part in reversed(parts[:-1]):
        listing = _("%(first)s; %(rest)s", first=part, rest=listing)
    return listing


def listed(parts: list[str]) -> str:
    """Items as one list, "a, b, c" (in Chinese "a、b、c"), each translated on its own (a Text holding the
    next)."""
    if not parts:
        return ""
    listing = parts[-1]
    for part in reversed(parts[:-1]):
        listing = _("%(first)s, %(rest)s", first=part, rest=listing)
    return listing


def message_of(exc: Exception) -> str:
    """The message a ValueError (or any exception) was raised with: a workflows.messages.Text stays one, so
    whoever shows it can still translate it (str(exc) would make it plain English). Raised with several
    sentences, them one after another ("first; second"), not a Python tuple; with none (or blanks only),
    "" (the caller says what failed without one)."""
    if len(exc.args) == 1 and isinstance(exc.args[0], str):
        return exc.args[0]
    if type(exc).__str__ is not BaseException.__str__:  # it says its args itself (OSError: "[Errno 2] …")
        return str(exc)
    # None is no sentence: HandlerInputError(None) would otherwise be said 'None' to the user.
    said = [arg if isinstance(arg, str) else str(arg) for arg in exc.args if arg is not None]
    said = [sentence for sentence in said if sentence.strip()]
    return said[0] if len(said) == 1 else one_after_another(said)
