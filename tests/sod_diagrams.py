"""Diagrams a process owner could deploy to move money: approval tasks for chosen groups, then one service
task. The segregation-of-duties tests deploy them to show what the engine refuses."""

from __future__ import annotations

from html import escape
from pathlib import Path

BPMN_DIR = Path(__file__).resolve().parent.parent / "bpmn"
APPROVAL_FORM = "credit_approval.json"  # decision approve/reject + comment

_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="{key}_definitions" targetNamespace="http://creditflow.example/bpmn/tests">
  <bpmn:process id="{key}" name="{key}" isExecutable="true">
    <bpmn:startEvent id="started">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="startGroups" value="{start_groups}" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:outgoing>to_0</bpmn:outgoing>
    </bpmn:startEvent>
"""
_TASK = """    <bpmn:userTask id="{id}" name="Approve as {groups}">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="{form}" />
          <spiffworkflow:property name="candidateGroups" value="{groups}" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>to_{n}</bpmn:incoming>
      <bpmn:outgoing>to_{next}</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="to_{n}" sourceRef="{source}" targetRef="{id}" />
"""
_SERVICE = """    <bpmn:serviceTask id="move_money" name="Move money">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="{operation}" resultVariable="moved">
          <spiffworkflow:parameters>
{parameters}
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>to_{n}</bpmn:incoming>
      <bpmn:outgoing>to_end</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="to_{n}" sourceRef="{source}" targetRef="move_money" />
    <bpmn:endEvent id="done"><bpmn:incoming>to_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="to_end" sourceRef="move_money" targetRef="done" />
  </bpmn:process>
</bpmn:definitions>
"""


def money_diagram(
    key: str,
    operation: str,
    parameters: dict[str, str],
    *,
    approvals: list[str] = (),  # type: ignore[assignment]
    start_groups: str = "process_owner",
) -> str:
    """A process `key`: one approval task per entry of `approvals` (its candidate groups, comma-separated),
    then `operation` with `parameters` (Python expressions on the start data)."""
    parts = [_HEAD.format(key=key, start_groups=start_groups)]
    source = "started"
    for n, groups in enumerate(approvals):
        task_id = f"approve_{n}"
        parts.append(
            _TASK.format(id=task_id, groups=groups, form=APPROVAL_FORM, n=n, next=n + 1, source=source)
        )
        source = task_id
    lines = "\n".join(
        f'            <spiffworkflow:parameter id="{name}" type="any" value="{escape(value)}" />'
        for name, value in parameters.items()
    )
    parts.append(_SERVICE.format(operation=operation, parameters=lines, n=len(approvals), source=source))
    return "".join(parts)


def bundle(key: str, text: str, *shipped: str) -> dict[str, bytes]:
    """The diagram as `<key>.bpmn` with shipped files of bpmn/ (the approval form always)."""
    files = {f"{key}.bpmn": text.encode()}
    for name in (APPROVAL_FORM, *shipped):
        files[name] = (BPMN_DIR / name).read_bytes()
    return files
