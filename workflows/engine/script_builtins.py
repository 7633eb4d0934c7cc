"""What snippets run with: the builtins, the guards that bound what one operator may build, and the size
check on what a snippet hands back.

Shared by the server (engine.sandbox) and the script worker (engine.script_worker). Snippets compiled by
engine.script_code call the guards by name: `GUARD_NAME` for `**`, `<<`, `*` and `+`, `FORMAT_NAME` for
every f-string field, `JOIN_NAME` for `sep.join(items)`. In the worker (`SAFE_BUILTINS`) they refuse
obvious bombs with a clear message; in the server (`IN_PROCESS_BUILTINS`) far lower bounds hand the
snippet over to the worker instead.
"""

from __future__ import annotations

import ast
import math
import sys
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from workflows.engine.failures import EngineError
from workflows.engine.script_clock import ScriptDate, ScriptDateTime
from workflows.engine.script_days import day
from workflows.engine.script_money import money
from workflows.engine.script_rules import IN_PROCESS_CALLS
from workflows.messages import _
from workflows.process_data import text_problem

# Bounds on what one operator may build in the script worker: an int of a million bits (~300,000 digits)
# or a sequence of ten million items is far beyond credit arithmetic. They turn an obvious bomb into a clear
# message at once; the worker's memory limit bounds what they cannot see.
MAX_INT_BITS = 1_000_000
MAX_ITEMS = 10_000_000
# Far lower bounds for snippets run inside the server: past them the snippet is re-run in the worker.
IN_PROCESS_MAX_INT_BITS = 64_000
IN_PROCESS_MAX_ITEMS = 10_000
# A snippet runs in the server only when the task data it names is at most this big (as JSON): each of
# its at most 120 operations may copy what it names (a slice, list(), .upper()), so this bounds the
# memory it can take; with more data it runs in the worker.
IN_PROCESS_MAX_DATA = 50_000
# Decimal exponents beyond this make int(), round() and f"{x:f}" build huge numbers or strings.
IN_PROCESS_MAX_EXPONENT = 1_000


# How large a value a snippet may hand back (return, or leave in task data), counted as characters of
# JSON with every reference counted again: `[[s] * 100] * 100` pickles small but serializes 10,000 times.
MAX_RESULT_CHARS = 16 * 2**20


class ScriptLimitExceeded(Exception):
    """A script ran too long or tried to build a value beyond the sandbox's bounds."""


class RunInWorker(Exception):
    """Raised inside the server when a snippet grows past the in-process bounds; it re-runs in the worker.

    Snippets that run in the server have no `try` (script_rules.runs_in_process), so none can catch it.
    """


def check_result(value: Any) -> None:
    """Refuse a value a snippet hands back that task data could not hold: one taking more than
    MAX_RESULT_CHARS as JSON, or one the instance's state and its database rows cannot store (see
    `unstorable`). Checked where the value is made, so the step fails with an incident naming the element
    instead of every later save of the instance (a 500, a tick that stops at this instance).

    Raises:
        ScriptLimitExceeded: too big.  ValueError: not storable.
    """
    if data_size(value, MAX_RESULT_CHARS) > MAX_RESULT_CHARS:
        raise ScriptLimitExceeded(
            _(
                "the script's result would take more than %(mb)s MB as task data (a list may hold the same "
                "value many times), or holds an integer of more than 4,300 digits; keep large records in "
                "tables",
                mb=MAX_RESULT_CHARS // 2**20,
            )
        )
    problem = unstorable(value)
    if problem:
        raise ValueError(
            _(
                "the script's result cannot be kept in task data: %(problem)s; task data holds text, "
                "numbers, Decimal, dates, lists and dicts with text keys",
                problem=problem,
            )
        )


def check_service_result(value: Any, operation: str, bpmn_id: str) -> None:
    """Refuse a handler's result that task data could not hold, as a script's is (`unstorable`): a lone
    surrogate or data nested past MAX_RESULT_DEPTH, once stored, would break every answer showing the task.

    Raises:
        EngineError: naming the operation, so the step fails with an incident at its element.
    """
    problem = unstorable(value)
    if problem:
        said = _("its result cannot be kept in task data: %(problem)s", problem=problem)
        raise EngineError(_("%(operation)s failed: %(error)s", operation=operation, error=said), bpmn_id)


# How deeply a snippet's value may nest. Saving an instance recurses a few frames per level: 200 levels
# still round-tripped, 250 hit the recursion limit (measured; process_data stops user data at 50).
MAX_RESULT_DEPTH = 100
# Scalars task data holds as they are: the state's registry knows them (engine.spiff), JSON writes them.
_STORABLE = frozenset({str, int, float, bool, type(None), Decimal, date, datetime, timedelta})
_KEYS = (str, int, float, bool, type(None))  # keys JSON writes (as text)


def unstorable(value: Any) -> str | None:
    """Why task data could not hold `value`, or None: a type the state cannot save (complex, bytes, a
    generator, a dict with tuple keys), NaN or Infinity (PostgreSQL's json refuses them), a NUL character
    or an unpaired surrogate (PostgreSQL's text refuses NUL; UTF-8 has no surrogates), or nesting deeper
    than MAX_RESULT_DEPTH. Iterative, so any nesting is refused without exhausting the stack."""
    # (value, depth, where): `where` is (parent's where, key), spelled out only for the message.
    pending: list[tuple[Any, int, Any]] = [(value, 0, None)]
    while pending:
        item, depth, where = pending.pop()
        kind = type(item)
        problem = None
        if depth > MAX_RESULT_DEPTH:
            problem = f"is nested deeper than {MAX_RESULT_DEPTH} levels"
        elif kind is str:
            problem = text_problem(item)
        elif kind is float:
            problem = None if math.isfinite(item) else f"is {item}, which JSON cannot store"
        elif kind is Decimal:
            problem = None if item.is_finite() else f"is {item}, which is not a number"
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, _KEYS) or (isinstance(key, str) and text_problem(key)):
                    problem = f"has the key {_short(key)}, which JSON cannot write as text"
                    break
                pending.append((child, depth + 1, (where, key)))
        elif isinstance(item, (list, tuple, set, frozenset)):
            pending.extend((child, depth + 1, (where, index)) for index, child in enumerate(item))
        elif kind not in _STORABLE:
            problem = f"is a {kind.__name__}"
        if problem:
            return f"{_spelled(where)} {problem}"
    return None


def _spelled(where: Any) -> str:
    keys = []
    while where is not None:
        where, key = where
        keys.append(f"[{_short(key)}]")
    keys.reverse()
    if len(keys) > 8:
        keys = [*keys[:4], "...", *keys[-2:]]
    return "the value" + "".join(keys)


def _short(key: Any) -> str:
    text = repr(key)
    return text if len(text) <= 40 else text[:37] + "..."


def data_size(value: Any, limit: int) -> int:
    """About how many characters `value` takes as JSON, every reference counted again; the walk stops
    (returning more than `limit`) as soon as it passes `limit`."""
    total = 0
    pending: list[Iterable[Any]] = [(value,)]  # containers still to walk, counted in `total` when found
    while pending:
        for item in pending.pop():
            kind = type(item)
            if kind is str:
                total += len(item) + 2
            elif kind is int:
                total += _int_size(item, limit)
            elif kind in _SHORT:
                total += 8
            elif isinstance(item, dict):
                total += 2 + 2 * len(item)
                pending.append(item.keys())
                pending.append(item.values())
            elif isinstance(item, (list, tuple, set, frozenset)):
                total += 2 + len(item)
                pending.append(item)
            else:
                total += _scalar_size(item, limit)
            if total > limit:
                return total
    return total


def _scalar_size(item: Any, limit: int) -> int:
    if isinstance(item, str):
        return len(item) + 2
    if isinstance(item, Decimal):
        return len(item.as_tuple().digits) + 8
    if isinstance(item, int):
        return _int_size(item, limit)
    return 32


def _int_size(number: int, limit: int) -> int:
    # An int past Python's 4,300-digit conversion limit cannot be written as JSON at all: it counts as
    # too big, so it fails the step that made it instead of every later save of the instance.
    bits = number.bit_length()
    return bits // 3 + 1 if bits <= _MAX_STORABLE_INT_BITS else limit + 1


# 0 means the interpreter runs without the limit.
_MAX_STORABLE_INT_BITS = int(sys.get_int_max_str_digits() * 3.32) or MAX_INT_BITS


_SHORT = frozenset({bool, float, type(None), date, datetime, timedelta})


def _too_big(message: str) -> ScriptLimitExceeded:
    return ScriptLimitExceeded(
        _("%(problem)s; scripts are for credit arithmetic, not bulk computation", problem=message)
    )


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, list, tuple, bytes)) else None


def _oversized(op: str, left: Any, right: Any, max_bits: int, max_items: int) -> str | None:
    """Why `left op right` would exceed the bounds, or None."""
    if type(left) is int and type(right) is int:  # noqa: E721 - bool is fine, it cannot grow
        # The messages name sizes, not the numbers: printing a huge int fails (sys.int_info digits limit).
        if op == "**" and right > 0 and abs(left) > 1 and right * left.bit_length() > max_bits:
            return f"a power of a {left.bit_length():,}-bit number would have more than {max_bits:,} bits"
        if op == "<<" and right > max_bits:
            return f"a shift by more than {max_bits:,} bits"
        if op == "*" and left.bit_length() + right.bit_length() > max_bits:
            return f"a product of more than {max_bits:,} bits"
    elif op == "*":
        size, count = (_size(left), right) if _size(left) is not None else (_size(right), left)
        if size is not None and isinstance(count, int) and size * count > max_items:
            return f"repeating a sequence to more than {max_items:,} items"
    elif op == "+":
        sizes = (_size(left), _size(right))
        if sizes[0] is not None and sizes[1] is not None and sizes[0] + sizes[1] > max_items:
            return f"joining sequences to more than {max_items:,} items"
    return None


def _guarded_binop(op: str, left: Any, right: Any) -> Any:
    """`left op right` for the operators that can build huge values, refusing results past the bounds."""
    reason = _oversized(op, left, right, MAX_INT_BITS, MAX_ITEMS)
    if reason:
        raise _too_big(reason)
    return _OPERATORS[op](left, right)


def _in_process_binop(op: str, left: Any, right: Any) -> Any:
    if _oversized(op, left, right, IN_PROCESS_MAX_INT_BITS, IN_PROCESS_MAX_ITEMS) or _repeats_containers(
        op, left, right
    ):
        raise RunInWorker(op)
    return _OPERATORS[op](left, right)


def _repeats_containers(op: str, left: Any, right: Any) -> bool:
    """Whether `*` or `+` would build a list or tuple bigger than IN_PROCESS_MAX_DATA with every reference
    counted again. Few items can hold many: `[[["a"] * n] * n] * n` has n items at each level, yet `==`
    or a hash walks all n**3 of them in C, where nothing can stop it (n = 10,000 held the server for
    about 20 minutes); past this bound the snippet runs in the worker, whose time limit stops it."""
    if op == "*":
        sequence, count = (left, right) if isinstance(left, (list, tuple)) else (right, left)
        if not isinstance(sequence, (list, tuple)) or not isinstance(count, int) or count <= 1:
            return False
        return data_size(sequence, IN_PROCESS_MAX_DATA) * count > IN_PROCESS_MAX_DATA
    if op == "+" and isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return (
            data_size(left, IN_PROCESS_MAX_DATA) + data_size(right, IN_PROCESS_MAX_DATA) > IN_PROCESS_MAX_DATA
        )
    return False


def _formatted(value: Any) -> Any:
    """What an f-string field formats (in the worker: anything; its limits bound it)."""
    return value


# Values whose text is short whatever they hold (a Decimal's exponent is checked separately).
_SCALARS = (bool, int, float, Decimal, date, datetime, timedelta, timezone, type(None))


def _in_process_formatted(value: Any) -> Any:
    """Scalars and short strings only: the text of a container, or of a field fed back into another
    f-string, could grow with every reuse."""
    if isinstance(value, str):
        if len(value) > IN_PROCESS_MAX_ITEMS:
            raise RunInWorker("long string")
    elif isinstance(value, _SCALARS):
        _check_exponent(value)
    else:
        raise RunInWorker("container")
    return value


def _join(separator: Any, items: Any) -> Any:
    """`separator.join(items)` (in the worker: as it is; its limits bound it)."""
    return separator.join(items)


def _in_process_join(separator: Any, items: Any) -> Any:
    """A join whose text stays short: fed back through `:=`, a join of joins would double each time."""
    items = list(items)
    if isinstance(separator, str):
        size = len(separator) * len(items) + sum(len(i) for i in items if isinstance(i, str))
        if size > IN_PROCESS_MAX_ITEMS:
            raise RunInWorker("long join")
    return separator.join(items)


def _check_exponent(value: Any) -> None:
    if isinstance(value, Decimal) and value.is_finite() and abs(value.adjusted()) > IN_PROCESS_MAX_EXPONENT:
        raise RunInWorker("decimal exponent")


def _in_process_str(*args: Any, **kwargs: Any) -> str:
    if args:
        _in_process_formatted(args[0])
    return str(*args, **kwargs)


def _in_process_int(*args: Any, **kwargs: Any) -> int:
    if args:
        _check_exponent(args[0])
    return int(*args, **kwargs)


def _in_process_round(number: Any, ndigits: Any = None) -> Any:
    # round(12345, -10**6) computes 10**(10**6) first; a huge exponent does the same through int().
    _check_exponent(number)
    if isinstance(ndigits, int) and abs(ndigits) > IN_PROCESS_MAX_EXPONENT:
        raise RunInWorker("round digits")
    return round(number) if ndigits is None else round(number, ndigits)


_OPERATORS: dict[str, Any] = {
    "**": lambda a, b: a**b,
    "<<": lambda a, b: a << b,
    "*": lambda a, b: a * b,
    "+": lambda a, b: a + b,
}
GUARDED_OPS: dict[type[ast.operator], str] = {ast.Pow: "**", ast.LShift: "<<", ast.Mult: "*", ast.Add: "+"}
# The names the rewritten code calls; user code cannot name them (leading underscore), so cannot shadow them.
GUARD_NAME = "_creditflow_binop"
FORMAT_NAME = "_creditflow_formatted"
JOIN_NAME = "_creditflow_join"


def _bounded_range(*args: int) -> range:
    span = range(*args)
    if len(span) > MAX_ITEMS:
        raise _too_big(
            _(
                "a range of %(count)s numbers is more than %(most)s",
                count=format(len(span), ","),
                most=format(MAX_ITEMS, ","),
            )
        )
    return span


# fmt: off
SAFE_BUILTINS: dict[str, Any] = {
    "abs": abs, "all": all, "any": any, "bool": bool, "dict": dict, "divmod": divmod,
    "enumerate": enumerate, "filter": filter, "float": float, "int": int, "isinstance": isinstance,
    "len": len, "list": list, "map": map, "max": max, "min": min, "range": _bounded_range,
    "reversed": reversed, "round": round, "set": set, "sorted": sorted, "str": str, "sum": sum,
    "tuple": tuple, "zip": zip, "True": True, "False": False, "None": None,
    # Value types needed for credit arithmetic and due dates; none of them reaches the OS.
    # date and datetime whose today()/now() answer the step's time (engine.script_clock), not the wall's.
    "Decimal": Decimal, "date": ScriptDate, "datetime": ScriptDateTime, "timedelta": timedelta,
    "timezone": timezone,
    # An amount as English texts write it; a Chinese subject gets money_zh under this name (engine.waits).
    "money": money,
    # A day as English texts write it ("1 May 2026"); a Chinese subject gets day_zh (engine.script_days).
    "day": day,
    GUARD_NAME: _guarded_binop, FORMAT_NAME: _formatted, JOIN_NAME: _join,
}
# fmt: on

# What a snippet accepted by `runs_in_process` sees: builtins whose cost is linear in their arguments,
# and guards that hand anything bigger to the worker. Such snippets call nothing else.
IN_PROCESS_BUILTINS: dict[str, Any] = {
    **{name: SAFE_BUILTINS[name] for name in IN_PROCESS_CALLS},
    "int": _in_process_int,
    "round": _in_process_round,
    "str": _in_process_str,
    "True": True,
    "False": False,
    "None": None,
    GUARD_NAME: _in_process_binop,
    FORMAT_NAME: _in_process_formatted,
    JOIN_NAME: _in_process_join,
}
