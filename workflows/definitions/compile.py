"""Compile validated BPMN/DMN bundles to serialized specs, and restore them (cached per version)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from workflows.definitions.display_names import one_line
from workflows.definitions.validation import ValidatedBundle

# Specs are serialized with SpiffWorkflow's own converters; the engine's state serializer keeps its own
# registry (engine.spiff) and reuses the restored spec objects as they are.
_registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)


@dataclass(frozen=True)
class CompiledProcess:
    process_key: str
    name: str
    spec_json: str
    start_groups: list[str]
    bpmn_file: str
    operations: list[str] = field(default_factory=list)  # service operations it calls (subprocesses too)


@dataclass
class LoadedSpec:
    spec: Any
    subprocess_specs: dict[str, Any] = field(default_factory=dict)


def compile_bundle(bundle: ValidatedBundle) -> list[CompiledProcess]:
    """Serialize each executable process spec once, with the groups allowed to start it."""
    compiled = []
    for pid in bundle.process_ids:
        spec = bundle.parser.get_spec(pid)
        subprocess_specs = bundle.parser.get_subprocess_specs(pid)
        spec_json = json.dumps(
            {
                "spec": _registry.convert(spec),
                "subprocess_specs": {k: _registry.convert(v) for k, v in subprocess_specs.items()},
            }
        )
        start = spec.task_specs.get(spec.start.outputs[0].name) if spec.start.outputs else None
        lane = getattr(start, "lane", None)
        # A start event's `startGroups` property widens who may start beyond the start lane's group.
        start_props = (getattr(start, "extensions", None) or {}).get("properties", {}) or {}
        start_groups = split_names(start_props.get("startGroups")) or ([lane] if lane else [])
        compiled.append(
            CompiledProcess(
                process_key=pid,
                name=one_line(spec.description) or pid,  # a name of blanks is none
                spec_json=spec_json,
                start_groups=start_groups,
                bpmn_file=spec.file or "",
                operations=sorted(
                    {
                        name
                        for process in (spec, *subprocess_specs.values())
                        for task_spec in process.task_specs.values()
                        if (name := getattr(task_spec, "operation_name", None))
                    }
                ),
            )
        )
    return compiled


@lru_cache(maxsize=256)
def load_spec(spec_json: str) -> LoadedSpec:
    """Restore a compiled spec; cached, because specs never change once deployed."""
    raw = json.loads(spec_json)
    return LoadedSpec(
        spec=_registry.restore(raw["spec"]),
        subprocess_specs={k: _registry.restore(v) for k, v in raw["subprocess_specs"].items()},
    )


def split_names(value: str | None) -> list[str]:
    """A comma-separated extension property (candidateGroups, startGroups, fourEyes) as a list, each name
    once (a group named twice would write two candidate rows with one key and fail the step)."""
    return list(dict.fromkeys(part.strip() for part in (value or "").split(",") if part.strip()))
