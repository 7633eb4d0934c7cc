"""A new process from a template: a pool, one lane carrying the starting group, a start and an end event.

The template deploys as it is (the lane names the group that may start it, as in every shipped diagram), so a
process owner can open it in the modeler, add steps, and deploy version 1 without a desktop tool.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from workflows.credit.roles import ADMIN, AUDITOR, GROUPS
from workflows.messages import Text, _

# A process key is the BPMN process id and appears in URLs, the CLI and the API: snake_case ASCII, short.
KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{2,59}")
NAME_LENGTH = 120
# The groups that may carry the start lane: auditors change nothing, and admins may start anything anyway.
START_LANE_GROUPS = tuple(sorted(GROUPS - {AUDITOR, ADMIN}))
_NAMESPACES = " ".join(
    f'xmlns:{prefix}="{uri}"'
    for prefix, uri in (
        ("bpmn", "http://www.omg.org/spec/BPMN/20100524/MODEL"),
        ("bpmndi", "http://www.omg.org/spec/BPMN/20100524/DI"),
        ("dc", "http://www.omg.org/spec/DD/20100524/DC"),
        ("di", "http://www.omg.org/spec/DD/20100524/DI"),
        ("spiffworkflow", "http://spiffworkflow.org/bpmn/schema/1.0/core"),
    )
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class NewProcess:
    key: str
    name: str
    group: str


def check_new_process(key: str, name: str, group: str) -> tuple[NewProcess | None, dict[str, Text]]:
    """The template's choices, or a message per bad field (key, name, group)."""
    key, name, group = key.strip(), " ".join(name.split()), group.strip()
    problems: dict[str, Text] = {}
    if not KEY_PATTERN.fullmatch(key):
        problems["key"] = _(
            "the key must be 3 to 60 characters: lower-case letters, digits and underscores, starting with a "
            "letter (for example supplier_onboarding)"
        )
    if not name or len(name) > NAME_LENGTH or _CONTROL.search(name):
        problems["name"] = _("the name must be 1 to %(most)s characters of text", most=NAME_LENGTH)
    if group not in START_LANE_GROUPS:
        problems["group"] = _("choose the group that starts the process from the list")
    if problems:
        return None, problems
    return NewProcess(key, name, group), {}


def template_xml(process: NewProcess) -> str:
    """The BPMN of the new process: pool and lane, start event → end event, with diagram positions."""
    key, name, group = process.key, quoteattr(process.name), escape(process.group)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {_NAMESPACES} id="{key}_definitions"
    targetNamespace="http://creditflow.example/bpmn" exporter="creditflow" exporterVersion="1">
  <bpmn:collaboration id="{key}_collaboration">
    <bpmn:participant id="{key}_participant" name={name} processRef="{key}" />
  </bpmn:collaboration>
  <bpmn:process id="{key}" name={name} isExecutable="true">
    <bpmn:laneSet id="{key}_lanes">
      <bpmn:lane id="{key}_start_lane" name="{group}">
        <bpmn:flowNodeRef>{key}_started</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>{key}_done</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="{key}_started" name="Started">
      <bpmn:outgoing>{key}_flow</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="{key}_flow" sourceRef="{key}_started" targetRef="{key}_done" />
    <bpmn:endEvent id="{key}_done" name="Done">
      <bpmn:incoming>{key}_flow</bpmn:incoming>
    </bpmn:endEvent>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="{key}_diagram">
    <bpmndi:BPMNPlane id="{key}_plane" bpmnElement="{key}_collaboration">
      <bpmndi:BPMNShape id="{key}_participant_di" bpmnElement="{key}_participant" isHorizontal="true">
        <dc:Bounds x="120" y="60" width="600" height="200" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="{key}_start_lane_di" bpmnElement="{key}_start_lane" isHorizontal="true">
        <dc:Bounds x="150" y="60" width="570" height="200" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="{key}_started_di" bpmnElement="{key}_started">
        <dc:Bounds x="212" y="142" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="{key}_done_di" bpmnElement="{key}_done">
        <dc:Bounds x="592" y="142" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="{key}_flow_di" bpmnElement="{key}_flow">
        <di:waypoint x="248" y="160" />
        <di:waypoint x="592" y="160" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""
