"""Pruning completed history: a looping case keeps a bounded state and behaves exactly as without it.

Two copies of one case run side by side in memory, one pruned and one not, each saved and restored
after every step as the runner does. They must offer the same tasks, fire the same timers and end
with the same data, through parallel and inclusive joins, a boundary timer and an embedded subprocess.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from workflows.definitions import compile
from workflows.definitions.validation import ValidatedBundle, make_parser
from workflows.engine import pruning
from workflows.engine import spiff as engine

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "engine"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def no_services(task_id: str, bpmn_id: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
    raise AssertionError(f"loop_mix calls no service, but {bpmn_id} called {name}")


def load(process_id: str) -> compile.LoadedSpec:
    parser = make_parser()
    parser.add_bpmn_file(str(FIXTURES / f"{process_id}.bpmn"))
    bundle = ValidatedBundle(parser=parser, process_ids=[process_id], forms={})
    (compiled,) = compile.compile_bundle(bundle)
    return compile.load_spec(compiled.spec_json)


def loop_mix() -> compile.LoadedSpec:
    return load("loop_mix")


class Case:
    """One instance, saved and restored between steps; `prune` decides whether history is cut."""

    def __init__(self, loaded: compile.LoadedSpec, prune: bool, limit: int) -> None:
        self.loaded, self.prune = loaded, prune
        wf = engine.new_workflow(loaded, {"limit": limit}, no_services)
        self.state = self._save(wf, START)

    def _save(self, wf: Any, now: datetime) -> str:
        engine.run_engine(wf, now, max_depth=900)
        if self.prune:
            pruning.prune_history(wf)
        return engine.dump_state(wf)

    def step(self, now: datetime, form: dict[str, Any] | None) -> None:
        wf = engine.restore_state(self.loaded, self.state, no_services)
        if form is not None:
            (ready,) = engine.snapshot(wf, 900).ready
            engine.complete_task(wf, ready.task_id, form)
        self.state = self._save(wf, now)

    def view(self) -> tuple[list[str], list[datetime], dict[str, Any], bool]:
        wf = engine.restore_state(self.loaded, self.state, no_services)
        waits = engine.snapshot(wf, 900)
        return (
            [t.bpmn_id for t in waits.ready],
            [t.due_at for t in waits.timers],
            engine.workflow_data(wf),
            engine.is_completed(wf),
        )


def test_a_pruned_loop_behaves_like_an_unpruned_one_and_keeps_its_state_bounded() -> None:
    loaded = loop_mix()
    rounds = 30
    pruned, full = Case(loaded, prune=True, limit=rounds), Case(loaded, prune=False, limit=rounds)
    now, sizes = START, []
    for round_no in range(rounds):
        seen = pruned.view()
        assert seen == full.view()
        ready, timers, _data, _done = seen
        assert ready == ["review"] and len(timers) == 1
        # Every third round the reviewer lets the boundary timer run out instead of answering.
        if round_no % 3 == 2:
            now = timers[0] + timedelta(seconds=1)
            form = None
        else:
            now += timedelta(hours=1)
            form = {"decision": f"round {round_no}"}
        pruned.step(now, form)
        full.step(now, form)
        sizes.append(len(pruned.state))

    ready, timers, data, done = pruned.view()
    assert (ready, timers, data, done) == full.view()
    assert done and ready == [] and timers == []
    assert data["rounds"] == rounds and data["timeouts"] == rounds // 3
    assert data["inner_total"] == sum(range(1, rounds + 1))
    # Bounded: the pruned state does not grow after the first rounds; the full one grows each round.
    assert max(sizes[5:]) <= sizes[5] * 1.2
    assert len(full.state) > 10 * max(sizes)


def test_pruning_keeps_the_last_task_and_every_waiting_task() -> None:
    loaded = loop_mix()
    case = Case(loaded, prune=True, limit=1000)
    now = START
    for _ in range(20):
        now += timedelta(hours=1)
        case.step(now, {"decision": "again"})
    wf = engine.restore_state(loaded, case.state, no_services)
    assert wf.last_task is not None and wf.last_task.id in wf.tasks
    assert pruning.prune_history(wf) == 0  # already pruned: nothing more to cut
    # Only the current round is kept: the subprocesses of earlier rounds went with their tasks.
    assert len(wf.subprocesses) <= 1
    assert max(t.depth for t in wf.tasks.values()) < 40


def test_a_loop_inside_a_subprocess_is_pruned_too() -> None:
    loaded = load("loop_in_subprocess")
    rounds = 40
    pruned, full = Case(loaded, prune=True, limit=rounds), Case(loaded, prune=False, limit=rounds)
    now, sizes = START, []
    for round_no in range(rounds):
        seen = pruned.view()
        assert seen == full.view() and seen[0] == ["review"]
        now += timedelta(hours=1)
        pruned.step(now, {"note": f"round {round_no}"})
        full.step(now, {"note": f"round {round_no}"})
        sizes.append(len(pruned.state))
    assert pruned.view() == full.view()
    assert pruned.view()[2]["rounds"] == rounds and pruned.view()[3]
    assert max(sizes[3:-1]) <= sizes[3] * 1.2
    assert len(full.state) > 5 * max(sizes)
