"""Engine step cost against history length: one user-task step of a case with 10 and with N completed steps.

A small loop diagram (a credit analyst handles a follow-up, again and again until told to stop) is
driven through `workflows.engine.runner.complete_task`: each step locks the instance, restores the workflow,
completes the task, runs the engine, syncs inbox/timers/audit and saves. The case is brought to each
history length first; then `--runs` further steps are timed there. Goal (issue 8): step time flat, not
growing with history, for a case with 10 and with 500 completed steps.

SpiffWorkflow keeps every step as a child of the one before; without `engine.prune_history` (run at
the end of every step) the step time grew 4.6 -> 34.4 ms from 10 to 400 steps and the case failed near
440 steps at the task-tree depth limit. The state size is printed too: it must not grow either.

The last line printed is JSON: {"step_ms": {"10": ..., "400": ...}, "ratio_longest_to_10": ..., ...}
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from handlers.registry import build_operations

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from workflows.definitions.deploy import deploy_files  # noqa: E402
from workflows.engine.runner import Runtime, complete_task, start_instance  # noqa: E402
from workflows.settings import load_settings  # noqa: E402
from workflows.store.db import make_engine, transaction  # noqa: E402
from workflows.store.models import InboxItem, ProcessInstance, TaskStatus  # noqa: E402
from workflows.store.schema import upgrade_schema  # noqa: E402
from workflows.users import SYSTEM, SYSTEM_ACTOR, actor_for, add_user  # noqa: E402

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LOOP_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="follow_up_definitions" targetNamespace="http://creditflow.example/bpmn/bench">
  <bpmn:collaboration id="follow_up_collaboration">
    <bpmn:participant id="follow_up_participant" name="Follow-up" processRef="follow_up" />
  </bpmn:collaboration>
  <bpmn:process id="follow_up" name="Follow-up" isExecutable="true">
    <bpmn:laneSet id="follow_up_lanes">
      <bpmn:lane id="credit_analyst_lane" name="credit_analyst">
        <bpmn:flowNodeRef>opened</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>follow_up_case</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>more_to_do</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>closed</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="opened" name="Opened"><bpmn:outgoing>to_follow_up</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="to_follow_up" sourceRef="opened" targetRef="follow_up_case" />
    <bpmn:userTask id="follow_up_case" name="Follow up the case">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="follow_up_form.json" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>to_follow_up</bpmn:incoming>
      <bpmn:incoming>again</bpmn:incoming>
      <bpmn:outgoing>to_more_to_do</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="to_more_to_do" sourceRef="follow_up_case" targetRef="more_to_do" />
    <bpmn:exclusiveGateway id="more_to_do" name="More to do?" default="again">
      <bpmn:incoming>to_more_to_do</bpmn:incoming>
      <bpmn:outgoing>again</bpmn:outgoing>
      <bpmn:outgoing>to_closed</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="again" sourceRef="more_to_do" targetRef="follow_up_case" />
    <bpmn:sequenceFlow id="to_closed" sourceRef="more_to_do" targetRef="closed">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">done == "yes"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:endEvent id="closed" name="Closed"><bpmn:incoming>to_closed</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""
LOOP_FORM = json.dumps(
    {
        "title": "Follow up the case",
        "type": "object",
        "required": ["done"],
        "properties": {
            "done": {"type": "string", "enum": ["yes", "no"]},
            "note": {"type": "string", "maxLength": 500},
        },
    }
)


def open_task_of(rt: Runtime, instance_id: int) -> int:
    with rt.factory() as session:
        task_id = session.scalar(
            select(InboxItem.id).where(
                InboxItem.instance_id == instance_id, InboxItem.status == TaskStatus.OPEN
            )
        )
    assert task_id is not None
    return int(task_id)


def measure(url: str, lengths: list[int], runs: int) -> dict[str, Any]:
    settings = load_settings({}, database={"url": url})
    engine = make_engine(settings.database)
    upgrade_schema(engine)
    rt = Runtime(engine, settings, build_operations())
    with transaction(rt.factory) as session:
        deploy_files(
            session,
            {"follow_up.bpmn": LOOP_BPMN.encode(), "follow_up_form.json": LOOP_FORM.encode()},
            rt.operations,
            deployed_by=SYSTEM_ACTOR,
            now=NOW,
        )
        analyst = actor_for(add_user(session, "analyst_bench", groups=["credit_analyst"], now=NOW))
    instance = start_instance(rt, "follow_up", {}, actor=SYSTEM, now=NOW)
    now, done, results = NOW, 0, {}
    for length in lengths:
        while done < length:  # bring the history to `length` completed steps (untimed)
            now += timedelta(minutes=1)
            complete_task(rt, open_task_of(rt, instance.id), {"done": "no"}, actor=analyst, now=now)
            done += 1
            with rt.factory() as session:
                status = session.scalar(
                    select(ProcessInstance.status).where(ProcessInstance.id == instance.id)
                )
            if status != "running":
                print(f"the case stopped after {done} completed steps: status {status}")
                results[length] = {"unreachable_after": done}
                engine.dispose()
                return results
        times = []
        for _ in range(runs):
            task_id = open_task_of(rt, instance.id)
            now += timedelta(minutes=1)
            began = time.perf_counter()
            complete_task(rt, task_id, {"done": "no", "note": "called, will pay"}, actor=analyst, now=now)
            times.append((time.perf_counter() - began) * 1000)
            done += 1
        with rt.factory() as session:
            state_kb = (
                session.scalar(
                    select(func.length(ProcessInstance.state)).where(ProcessInstance.id == instance.id)
                )
                / 1024
            )
        results[length] = {"median_ms": statistics.median(times), "state_kb": state_kb}
        median = results[length]["median_ms"]
        print(f"{length:4d} completed steps: step median {median:6.1f} ms, state {state_kb:7.1f} KB")
    engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    parser.add_argument("--runs", type=int, default=20, help="timed steps at each history length")
    parser.add_argument("--lengths", default="10,100,500,2000", help="steps done before timing, ascending")
    args = parser.parse_args()
    lengths = [int(n) for n in args.lengths.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/steps.db"
        results = measure(url, lengths, args.runs)
    timed = {n: r for n, r in results.items() if "median_ms" in r}
    longest = max(timed)
    print(
        json.dumps(
            {
                "database": url.split(":", 1)[0],
                "step_ms": {str(n): round(r["median_ms"], 2) for n, r in timed.items()},
                "state_kb": {str(n): round(r["state_kb"], 1) for n, r in timed.items()},
                "ratio_longest_to_10": round(timed[longest]["median_ms"] / timed[lengths[0]]["median_ms"], 2),
                "unreachable": {str(n): r["unreachable_after"] for n, r in results.items() if n not in timed},
                "goal": "flat: the same step time at 10 and 500 completed steps",
            }
        )
    )


if __name__ == "__main__":
    main()
