"""Same-process A/B of dunning handlers: CPU per case start, old code against new, under the same load.

A whole dunning day (`dunning_day.py`) moves by +-20 % with the machine's load from one run to the next, so
two days run one after the other cannot show a 5 % change. Here one process seeds the benchmark's book and
runs the day's chunks of starts (`--chunk`, 40 by default), alternating (ABBA) between two tables of
operations: "new" is the code on PYTHONPATH, "old" the same table with some operations' handlers taken
from the modules of another export (say a `git archive` of the commit before). Each side's CPU
(`time.process_time`) is divided by the starts it made. A module loaded from the old export is registered
under its own name while the next ones load, so an old dunning_notices.py gets the old handlers/dunning.py's
add_event.

    cd NEW && PYTHONPATH=NEW .venv/bin/python benchmarks/dunning_ab.py --old OLD --customers 8000 \\
        --swap 'handlers/dunning.py:dunning.open_case=open_case,dunning.review=review_case'

Only handlers can be swapped; what both sides share (the engine, the batch starts) is the new code.
`--upstream-walks` (no --old, no --swap) instead runs the "old" side with SpiffWorkflow's own task-tree
walks, the new side with workflows/engine/patches.py's (issue 19, S9):

    PYTHONPATH=. .venv/bin/python benchmarks/dunning_ab.py --upstream-walks --customers 8000 --chunk 10

Chunks of 10 alternate more often than 40, so a burst of load or a garbage collection moves both sides
more alike. Six runs of the same code on both sides (8,000 customers, chunks of 10) gave paired medians
of 0.983-1.008 while their means differed by -0.2 to +4.5 %: read the paired median. The last line
printed is JSON: {"old": {"starts": ..., "cpu_ms_per_start": ...}, "new": {...},
"paired_median_new_over_old": ..., "load": [before, after]}; the paired median is that of new / old CPU
per start over each ABBA group of four chunks, which one slow chunk does not move.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _load(old: Path, rel: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "old_" + rel.removesuffix(".py").replace("/", "_"), old / rel
    )
    assert spec is not None and spec.loader is not None, rel
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def old_operations(new: dict[str, Any], old: Path, swaps: list[str]) -> dict[str, Any]:
    """`new` with the handlers each swap names ('path.py:operation=function,...') from the old export."""
    table: dict[str, Any] = dict(new)
    saved: dict[str, ModuleType | None] = {}
    for swap in swaps:
        rel, _, pairs = swap.partition(":")
        module = _load(old, rel)
        name = rel.removesuffix(".py").replace("/", ".")
        saved.setdefault(name, sys.modules.get(name))
        sys.modules[name] = module  # the next old modules import this one
        for pair in pairs.split(","):
            operation, _, function = pair.partition("=")
            table[operation] = dataclasses.replace(new[operation], func=getattr(module, function))
    for name, module in saved.items():
        if module is not None:
            sys.modules[name] = module
    return table


def upstream_walks(on: bool) -> None:
    """SpiffWorkflow's own task-tree walks (on) or workflows/engine/patches.py's (off)."""
    from SpiffWorkflow.bpmn.util.subworkflow import BpmnBaseWorkflow
    from SpiffWorkflow.workflow import Workflow

    from workflows.engine import patches

    if on:
        Workflow.update_waiting_tasks = patches._upstream_update_waiting_tasks
        BpmnBaseWorkflow.get_tasks_iterator = patches._upstream_get_tasks_iterator
    else:
        Workflow.update_waiting_tasks = patches._update_waiting_tasks
        BpmnBaseWorkflow.get_tasks_iterator = patches._get_tasks_iterator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="the old code's export (a directory)")
    parser.add_argument("--swap", action="append", default=[], help="path.py:operation=function,...")
    parser.add_argument("--upstream-walks", action="store_true", help="old = SpiffWorkflow's own walks")
    parser.add_argument("--customers", type=int, default=8000)
    parser.add_argument("--chunk", type=int, default=40, help="starts per chunk")
    args = parser.parse_args()
    if args.upstream_walks == bool(args.old or args.swap):
        parser.error("give --old and --swap, or --upstream-walks alone")
    url = f"sqlite:///{tempfile.mkdtemp(prefix='dunning_ab')}/book.db"
    os.environ["CREDITFLOW_DATABASE_URL"] = url

    from benchmarks.dunning_day import DAY, NOW, seed
    from handlers.registry import build_operations
    from workflows.batch.daily_starts import plan_dunning, run_chunk
    from workflows.engine.runner import Runtime
    from workflows.settings import load_settings
    from workflows.store.db import make_engine

    seed(url, args.customers, args.customers // 4)
    settings = load_settings()
    new = dict(build_operations())
    sides = {"old": old_operations(new, args.old, args.swap) if args.old else new, "new": new}
    rt = Runtime(make_engine(settings.database), settings, new)
    chunks = plan_dunning(rt, DAY, size=args.chunk)
    run_chunk(rt, chunks[0], NOW)  # warm-up (the spec's first parse), not counted
    cpu, starts = dict.fromkeys(sides, 0.0), dict.fromkeys(sides, 0)
    groups: list[dict[str, list[float]]] = []  # each ABBA group: CPU and starts of each side
    load = os.getloadavg()[0]
    for i, chunk in enumerate(chunks[1:]):
        side = ("old", "new", "new", "old")[i % 4]  # ABBA: neither side always runs first in a pair
        rt.operations = sides[side]
        if args.upstream_walks:
            upstream_walks(side == "old")
        began = time.process_time()
        made = len(run_chunk(rt, chunk, NOW).started)
        spent = time.process_time() - began
        starts[side] += made
        cpu[side] += spent
        if i % 4 == 0:
            groups.append({"old": [0.0, 0], "new": [0.0, 0]})
        groups[-1][side][0] += spent
        groups[-1][side][1] += made
    upstream_walks(False)
    found: dict[str, Any] = {
        side: {"starts": starts[side], "cpu_ms_per_start": round(1000 * cpu[side] / max(1, starts[side]), 3)}
        for side in sides
    }
    ratios = [
        g["new"][0] / g["new"][1] / (g["old"][0] / g["old"][1])
        for g in groups
        if min(g["new"][1], g["old"][1])
    ]
    found["paired_median_new_over_old"] = round(statistics.median(ratios), 4) if ratios else None
    print(json.dumps(found | {"load": [round(load, 2), round(os.getloadavg()[0], 2)]}))


if __name__ == "__main__":
    main()
