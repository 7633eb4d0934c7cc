"""BPMN diagrams that stress SpiffWorkflow's task-tree walks, for tests/attacks/test_session14_walk_attack.py.

Written without diagram interchange (SpiffWorkflow's parser needs none): each is a loop through one kind of
construct whose tasks the walks must find in the right order as the tree changes: boundary timers and
messages on user tasks and subprocesses, an event-based gateway, parallel and inclusive joins, multi-instance
tasks and subprocesses, call activities, an error boundary, a transaction cancelled, terminate end events,
and an engine-only loop whose tree grows past SpiffWorkflow's iterator depth of 1000.
"""

from __future__ import annotations

_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" '
    'targetNamespace="http://creditflow.example/bpmn/attacks">\n'
)


def flow(source: str, target: str, condition: str | None = None, flow_id: str | None = None) -> str:
    """A sequence flow; a condition is a Python expression on the task data."""
    fid = flow_id or f"f_{source}_{target}"
    if condition is None:
        return f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}" />'
    expression = condition.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}">'
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{expression}</bpmn:conditionExpression>'
        "</bpmn:sequenceFlow>"
    )


def script(task_id: str, code: str) -> str:
    return f'<bpmn:scriptTask id="{task_id}"><bpmn:script>{code}</bpmn:script></bpmn:scriptTask>'


def user(task_id: str, inner: str = "") -> str:
    return f'<bpmn:userTask id="{task_id}" name="{task_id}">{inner}</bpmn:userTask>'


def timer_boundary(event_id: str, attached: str, duration: str, interrupting: bool) -> str:
    return (
        f'<bpmn:boundaryEvent id="{event_id}" attachedToRef="{attached}" '
        f'cancelActivity="{"true" if interrupting else "false"}">'
        f'<bpmn:timerEventDefinition><bpmn:timeDuration>"{duration}"</bpmn:timeDuration>'
        "</bpmn:timerEventDefinition></bpmn:boundaryEvent>"
    )


def message_boundary(event_id: str, attached: str, message: str, interrupting: bool) -> str:
    return (
        f'<bpmn:boundaryEvent id="{event_id}" attachedToRef="{attached}" '
        f'cancelActivity="{"true" if interrupting else "false"}">'
        f'<bpmn:messageEventDefinition messageRef="{message}" /></bpmn:boundaryEvent>'
    )


def counted_loop(body_first: str, body_last: str, rounds: int, prefix: str = "") -> str:
    """start -> init -> merge -> [body] -> count -> loop back `rounds` times -> end."""
    p = prefix
    return "\n".join(
        [
            f'<bpmn:startEvent id="{p}start" />',
            script(f"{p}init", f"{p}n = 0"),
            f'<bpmn:exclusiveGateway id="{p}merge" />',
            script(f"{p}count", f"{p}n = {p}n + 1"),
            f'<bpmn:exclusiveGateway id="{p}again" default="f_{p}again_{p}end" />',
            f'<bpmn:endEvent id="{p}end" />',
            flow(f"{p}start", f"{p}init"),
            flow(f"{p}init", f"{p}merge"),
            flow(f"{p}merge", body_first),
            flow(body_last, f"{p}count"),
            flow(f"{p}count", f"{p}again"),
            flow(f"{p}again", f"{p}merge", f"{p}n < {rounds}"),
            flow(f"{p}again", f"{p}end"),
        ]
    )


def definitions(body: str, messages: tuple[str, ...] = (), errors: tuple[str, ...] = ()) -> str:
    parts = [_HEAD]
    parts += [f'<bpmn:message id="{m}" name="{m}" />' for m in messages]
    parts += [f'<bpmn:error id="{e}" errorCode="{e}" />' for e in errors]
    return "\n".join([*parts, body, "</bpmn:definitions>"])


def process(process_id: str, body: str) -> str:
    return f'<bpmn:process id="{process_id}" isExecutable="true">\n{body}\n</bpmn:process>'


# --- the diagrams -------------------------------------------------------------------------------------------

# A user task under an interrupting and a non-interrupting boundary timer, each round.
BOUNDARY_TIMERS = definitions(
    process(
        "boundary_timers",
        "\n".join(
            [
                counted_loop("work", "joined", 6),
                user("work"),
                timer_boundary("late", "work", "PT1H", True),
                timer_boundary("remind", "work", "PT30M", False),
                script("count_late", "late_round = n"),
                script("reminded", "reminded_round = n"),
                '<bpmn:endEvent id="remind_end" />',
                '<bpmn:exclusiveGateway id="joined" />',
                flow("work", "joined"),
                flow("late", "count_late"),
                flow("count_late", "joined"),
                flow("remind", "reminded"),
                flow("reminded", "remind_end"),
            ]
        ),
    )
)

# An embedded subprocess (a user task and a timer inside) under an interrupting message, a non-interrupting
# message and a non-interrupting timer, each round.
_SUB_INNER = "\n".join(
    [
        '<bpmn:startEvent id="sub_start" />',
        user("inner"),
        '<bpmn:intermediateCatchEvent id="inner_wait"><bpmn:timerEventDefinition>'
        '<bpmn:timeDuration>"PT20M"</bpmn:timeDuration></bpmn:timerEventDefinition>'
        "</bpmn:intermediateCatchEvent>",
        user("inner_two"),
        '<bpmn:endEvent id="sub_end" />',
        flow("sub_start", "inner"),
        flow("inner", "inner_wait"),
        flow("inner_wait", "inner_two"),
        flow("inner_two", "sub_end"),
    ]
)
SUBPROCESS_EVENTS = definitions(
    process(
        "subprocess_events",
        "\n".join(
            [
                counted_loop("sub", "after", 5),
                f'<bpmn:subProcess id="sub">{_SUB_INNER}</bpmn:subProcess>',
                message_boundary("stop", "sub", "stop", True),
                message_boundary("poke", "sub", "poke", False),
                timer_boundary("nudge", "sub", "PT15M", False),
                script("stopped", "stops = 1"),
                script("poked", "pokes = 1"),
                script("nudged", "nudges = 1"),
                '<bpmn:endEvent id="poke_end" />',
                '<bpmn:endEvent id="nudge_end" />',
                '<bpmn:exclusiveGateway id="after" />',
                flow("sub", "after"),
                flow("stop", "stopped"),
                flow("stopped", "after"),
                flow("poke", "poked"),
                flow("poked", "poke_end"),
                flow("nudge", "nudged"),
                flow("nudged", "nudge_end"),
            ]
        ),
    ),
    messages=("stop", "poke"),
)

# An event-based gateway (two messages and a timer) in a loop.
EVENT_GATEWAY = definitions(
    process(
        "event_gateway",
        "\n".join(
            [
                counted_loop("choose", "chosen", 7),
                '<bpmn:eventBasedGateway id="choose" />',
                '<bpmn:intermediateCatchEvent id="got_go"><bpmn:messageEventDefinition messageRef="go" />'
                "</bpmn:intermediateCatchEvent>",
                '<bpmn:intermediateCatchEvent id="got_halt"><bpmn:messageEventDefinition messageRef="halt" />'
                "</bpmn:intermediateCatchEvent>",
                '<bpmn:intermediateCatchEvent id="timed"><bpmn:timerEventDefinition>'
                '<bpmn:timeDuration>"PT40M"</bpmn:timeDuration></bpmn:timerEventDefinition>'
                "</bpmn:intermediateCatchEvent>",
                user("after_go"),
                '<bpmn:exclusiveGateway id="chosen" />',
                flow("choose", "got_go"),
                flow("choose", "got_halt"),
                flow("choose", "timed"),
                flow("got_go", "after_go"),
                flow("after_go", "chosen"),
                flow("got_halt", "chosen"),
                flow("timed", "chosen"),
            ]
        ),
    ),
    messages=("go", "halt"),
)

# A parallel split/join and an inclusive split/join (conditions on the round) in a loop.
JOINS = definitions(
    process(
        "joins",
        "\n".join(
            [
                counted_loop("fork", "ijoin", 6),
                '<bpmn:parallelGateway id="fork" />',
                user("pa"),
                script("pb", "pb_seen = n"),
                user("pc"),
                '<bpmn:parallelGateway id="pjoin" />',
                '<bpmn:inclusiveGateway id="isplit" default="f_isplit_ib" />',
                user("ia"),
                script("ib", "ib_seen = n"),
                user("ic"),
                '<bpmn:inclusiveGateway id="ijoin" />',
                flow("fork", "pa"),
                flow("fork", "pb"),
                flow("fork", "pc"),
                flow("pa", "pjoin"),
                flow("pb", "pjoin"),
                flow("pc", "pjoin"),
                flow("pjoin", "isplit"),
                flow("isplit", "ia", "n % 2 == 0"),
                flow("isplit", "ib"),
                flow("isplit", "ic", "n % 3 == 0"),
                flow("ia", "ijoin"),
                flow("ib", "ijoin"),
                flow("ic", "ijoin"),
            ]
        ),
    )
)

_MI_SEQ = (
    '<bpmn:multiInstanceLoopCharacteristics isSequential="true">'
    "<bpmn:loopCardinality>3</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>"
)
_MI_PAR = (
    '<bpmn:multiInstanceLoopCharacteristics isSequential="false">'
    "<bpmn:loopCardinality>3</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>"
)
# Sequential and parallel multi-instance user tasks, a parallel multi-instance embedded subprocess (each
# instance waits for a person under a timer) and a parallel multi-instance call activity, twice.
MULTI_INSTANCE = definitions(
    "\n".join(
        [
            process(
                "multi_instance",
                "\n".join(
                    [
                        counted_loop("seq", "calls", 2),
                        user("seq", _MI_SEQ),
                        user("par", _MI_PAR),
                        f'<bpmn:subProcess id="subs">{_MI_PAR}'
                        '<bpmn:startEvent id="s_start" />'
                        + user("s_user")
                        + timer_boundary("s_late", "s_user", "PT50M", True)
                        + '<bpmn:endEvent id="s_end" /><bpmn:endEvent id="s_late_end" />'
                        + flow("s_start", "s_user")
                        + flow("s_user", "s_end")
                        + flow("s_late", "s_late_end")
                        + "</bpmn:subProcess>",
                        f'<bpmn:callActivity id="calls" calledElement="child">{_MI_PAR}</bpmn:callActivity>',
                        flow("seq", "par"),
                        flow("par", "subs"),
                        flow("subs", "calls"),
                    ]
                ),
            ),
            process(
                "child",
                "\n".join(
                    [
                        '<bpmn:startEvent id="c_start" />',
                        user("c_user"),
                        '<bpmn:endEvent id="c_end" />',
                        flow("c_start", "c_user"),
                        flow("c_user", "c_end"),
                    ]
                ),
            ),
        ]
    )
)

# Call activities two deep under an interrupting timer; the grandchild throws an error the child's
# subprocess boundary catches when the round is odd; a terminate end in a subprocess ends it early.
CALLS_AND_ERRORS = definitions(
    "\n".join(
        [
            process(
                "calls_and_errors",
                "\n".join(
                    [
                        counted_loop("call_child", "back", 4),
                        '<bpmn:callActivity id="call_child" calledElement="child_a" />',
                        timer_boundary("child_late", "call_child", "PT2H", True),
                        '<bpmn:exclusiveGateway id="back" />',
                        flow("call_child", "back"),
                        flow("child_late", "back"),
                    ]
                ),
            ),
            process(
                "child_a",
                "\n".join(
                    [
                        '<bpmn:startEvent id="a_start" />',
                        '<bpmn:subProcess id="a_sub"><bpmn:startEvent id="as_start" />'
                        '<bpmn:callActivity id="call_grand" calledElement="child_b" />'
                        '<bpmn:parallelGateway id="as_fork" />'
                        + user("as_user")
                        + '<bpmn:endEvent id="as_terminate"><bpmn:terminateEventDefinition /></bpmn:endEvent>'
                        '<bpmn:endEvent id="as_end" />'
                        + flow("as_start", "as_fork")
                        + flow("as_fork", "call_grand")
                        + flow("as_fork", "as_user")
                        + flow("call_grand", "as_terminate")
                        + flow("as_user", "as_end")
                        + "</bpmn:subProcess>",
                        '<bpmn:boundaryEvent id="a_caught" attachedToRef="a_sub">'
                        '<bpmn:errorEventDefinition errorRef="oops" /></bpmn:boundaryEvent>',
                        script("handled", "handled = True"),
                        user("a_user"),
                        '<bpmn:endEvent id="a_end" />',
                        flow("a_start", "a_sub"),
                        flow("a_sub", "a_user"),
                        flow("a_caught", "handled"),
                        flow("handled", "a_user"),
                        flow("a_user", "a_end"),
                    ]
                ),
            ),
            process(
                "child_b",
                "\n".join(
                    [
                        '<bpmn:startEvent id="b_start" />',
                        user("b_user"),
                        '<bpmn:exclusiveGateway id="b_gate" default="f_b_gate_b_end" />',
                        '<bpmn:endEvent id="b_error"><bpmn:errorEventDefinition errorRef="oops" />'
                        "</bpmn:endEvent>",
                        '<bpmn:endEvent id="b_end" />',
                        flow("b_start", "b_user"),
                        flow("b_user", "b_gate"),
                        flow("b_gate", "b_error", "fail == True"),
                        flow("b_gate", "b_end"),
                    ]
                ),
            ),
        ]
    ),
    errors=("oops",),
)

# A transaction cancelled from inside (cancel end event, cancel boundary) when the round is even, beside a
# branch whose terminate end event ends the whole instance in the last round.
CANCEL_TERMINATE = definitions(
    process(
        "cancel_terminate",
        "\n".join(
            [
                counted_loop("tx", "tx_done", 5),
                '<bpmn:transaction id="tx"><bpmn:startEvent id="t_start" />'
                + user("t_user")
                + user("t_other")
                + '<bpmn:parallelGateway id="t_fork" />'
                '<bpmn:exclusiveGateway id="t_gate" default="f_t_gate_t_end" />'
                '<bpmn:endEvent id="t_cancel"><bpmn:cancelEventDefinition /></bpmn:endEvent>'
                '<bpmn:endEvent id="t_end" /><bpmn:endEvent id="t_other_end" />'
                + flow("t_start", "t_fork")
                + flow("t_fork", "t_user")
                + flow("t_fork", "t_other")
                + flow("t_other", "t_other_end")
                + flow("t_user", "t_gate")
                + flow("t_gate", "t_cancel", "n % 2 == 0")
                + flow("t_gate", "t_end")
                + "</bpmn:transaction>",
                '<bpmn:boundaryEvent id="tx_cancelled" attachedToRef="tx">'
                "<bpmn:cancelEventDefinition /></bpmn:boundaryEvent>",
                script("rolled_back", "rollbacks = n"),
                '<bpmn:exclusiveGateway id="tx_done" />',
                flow("tx", "tx_done"),
                flow("tx_cancelled", "rolled_back"),
                flow("rolled_back", "tx_done"),
            ]
        ),
    )
)

# A terminate end event in one parallel branch while the other waits for a person and a timer.
TERMINATE = definitions(
    process(
        "terminate",
        "\n".join(
            [
                '<bpmn:startEvent id="start" />',
                '<bpmn:parallelGateway id="fork" />',
                user("keep"),
                '<bpmn:intermediateCatchEvent id="pause"><bpmn:timerEventDefinition>'
                '<bpmn:timeDuration>"PT3H"</bpmn:timeDuration></bpmn:timerEventDefinition>'
                "</bpmn:intermediateCatchEvent>",
                user("finisher"),
                '<bpmn:endEvent id="kill"><bpmn:terminateEventDefinition /></bpmn:endEvent>',
                '<bpmn:endEvent id="keep_end" />',
                flow("start", "fork"),
                flow("fork", "keep"),
                flow("keep", "pause"),
                flow("pause", "keep_end"),
                flow("fork", "finisher"),
                flow("finisher", "kill"),
            ]
        ),
    )
)


def deep_loop(rounds: int, person_from: int) -> str:
    """A loop of `rounds` rounds, engine-only until round `person_from` (the first step grows the tree to
    nearly 1,000 tasks), then a person each round under a non-interrupting boundary timer (a few tasks a
    step, so the tree passes SpiffWorkflow's iterator depth of 1,000 between two steps)."""
    return definitions(
        process(
            "deep",
            "\n".join(
                [
                    counted_loop("tick", "tocked", rounds),
                    script("tick", "ticks = n"),
                    '<bpmn:exclusiveGateway id="who" default="f_who_tock" />',
                    script("auto", "autos = n"),
                    user("tock"),
                    timer_boundary("tock_late", "tock", "PT5H", False),
                    '<bpmn:endEvent id="late_end" />',
                    '<bpmn:exclusiveGateway id="tocked" />',
                    flow("tick", "who"),
                    flow("who", "auto", f"n < {person_from}"),
                    flow("who", "tock"),
                    flow("auto", "tocked"),
                    flow("tock", "tocked"),
                    flow("tock_late", "late_end"),
                ]
            ),
        )
    )
