"""The names a diagram gives its process, lanes and tasks in each language (issue 20, bilingual diagrams).

English is the element's own `name`; another language's name is the `spiffworkflow:property` named
`name_<code>` (`name_zh`) of the element's `extensionElements` (a user task, a lane, the process). A name
the diagram does not give in a language falls back to the English one. A lane is named by its group, so a
lane's `name_zh` is how that group reads in Chinese wherever the process's tasks are shown.

A deployed version never changes: the names are read once per diagram text (keyed by its content hash).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from threading import Lock

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.definitions.problems import BPMN_NS, NS
from workflows.definitions.versions import definition_file
from workflows.messages import Worded
from workflows.store.models import ProcessDefinition, ProcessInstance

NAME_PROPERTY = "name_{language}"
# The properties' path below an element that carries them.
PROPERTY_PATH = "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property"
ENGLISH = "en"


@dataclass(frozen=True)
class DiagramNames:
    """One process's names by language: {language: name} for the process, its elements (by id) and its
    lanes (by lane name, i.e. group)."""

    process: dict[str, str] = field(default_factory=dict)
    elements: dict[str, dict[str, str]] = field(default_factory=dict)
    lanes: dict[str, dict[str, str]] = field(default_factory=dict)
    # A message's name (what senders send) -> the names of the step that catches it ("Promise to pay").
    messages: dict[str, dict[str, str]] = field(default_factory=dict)

    def element(self, bpmn_id: str | None, language: str, fallback: str) -> str:
        """An element's name in `language`; `fallback` (the stored English name) when it has none."""
        if language == ENGLISH or not bpmn_id:
            return fallback
        return self.elements.get(bpmn_id, {}).get(language) or fallback

    def group(self, group: str, language: str) -> str:
        """A group as the lane of that name reads in `language`; the group's name when no lane names it."""
        if language == ENGLISH:
            return group
        return self.lanes.get(group, {}).get(language) or group

    def process_name(self, language: str, fallback: str) -> str:
        return self.process.get(language) or self.process.get(ENGLISH) or fallback

    def message_words(self, name: str) -> Worded | None:
        """The step that catches message `name`, by the name the diagram gives it in any language (a
        Worded); None when the diagram names no such step."""
        names = self.messages.get(name)
        if not names:
            return None
        return Worded(names.get(ENGLISH) or next(iter(names.values())), dict(names))

    def process_words(self, fallback: str) -> Worded:
        """The process's name in a sentence said in any language: the name the diagram gives in the reader's
        language, else its English name, else `fallback` (the process key)."""
        return Worded(self.process_name(ENGLISH, fallback), dict(self.process))


NO_NAMES = DiagramNames()


def one_line(name: str | None) -> str:
    """A name as the sentences, pages and log lines that say it take it: one line ("&#10;" in the diagram
    cannot start a line that looks like a log line of ours), each run of white space one space, other
    control characters left out, none at either end; "" for a name of blanks or invisible marks only (bidi
    marks, a byte order mark: category Cf), which would say nothing where the process or step is named."""
    if not name:
        return ""
    kept = "".join(c for c in name if c.isspace() or unicodedata.category(c) != "Cc")
    said = " ".join(kept.split())
    return said if any(not c.isspace() and unicodedata.category(c) != "Cf" for c in said) else ""


def _translated(element: etree._Element) -> dict[str, str]:
    """{language: name} of an element: its `name` as English, each `name_<code>` property, each as one
    line (one_line); one that is blank is none (the sentence falls back to another, or to the id)."""
    names = {}
    if english := one_line(element.get("name")):
        names[ENGLISH] = english
    for prop in element.iterfind(PROPERTY_PATH, NS):
        key, value = prop.get("name") or "", one_line(prop.get("value"))
        if key.startswith("name_") and value:
            names[key.removeprefix("name_")] = value
    return names


def read_names(bpmn: str | bytes, process_key: str) -> DiagramNames:
    """The names of process `process_key` in one BPMN text (NO_NAMES when it cannot be read)."""
    data = bpmn.encode() if isinstance(bpmn, str) else bpmn
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return NO_NAMES
    process = next(
        (p for p in root.iter(f"{{{BPMN_NS}}}process") if p.get("id") == process_key),
        None,
    )
    if process is None:
        return NO_NAMES
    elements = {}
    lanes = {}
    messages: dict[str, dict[str, str]] = {}
    message_names = {m.get("id"): m.get("name") for m in root.iter(f"{{{BPMN_NS}}}message") if m.get("id")}
    for element in process.iter(f"{{{BPMN_NS}}}*"):
        kind = etree.QName(element).localname
        if kind == "lane" and element.get("name"):
            lanes[str(element.get("name")).strip()] = _translated(element)
        elif element.get("id") and element is not process:
            names = _translated(element)
            if len(names) > 1 or (names and ENGLISH not in names):
                elements[str(element.get("id"))] = names
        # A receive task names its message itself; a catch event in its messageEventDefinition.
        catcher = element.getparent() if kind == "messageEventDefinition" else element
        message = message_names.get(element.get("messageRef"))
        if message and catcher is not None and message not in messages and _translated(catcher):
            messages[str(message)] = _translated(catcher)
    return DiagramNames(_translated(process), elements, lanes, messages)


_CACHE: dict[tuple[str, str, str], DiagramNames] = {}
_CACHE_LOCK = Lock()
_CACHE_LIMIT = 1000


def cached_names(
    content_hash: str, bpmn_file: str, process_key: str, load: Callable[[], str | None]
) -> DiagramNames:
    """`read_names` of a deployed version, read once per process: `load()` gives the BPMN text (or None)."""
    key = (content_hash, bpmn_file, process_key)
    found = _CACHE.get(key)
    if found is None:
        text = load()
        found = read_names(text, process_key) if isinstance(text, (str, bytes)) else NO_NAMES
        with _CACHE_LOCK:
            if len(_CACHE) >= _CACHE_LIMIT:
                _CACHE.clear()
            _CACHE[key] = found
    return found


def instance_versions(session: Session, instance_ids: Collection[int]) -> dict[int, int]:
    """{instance id: definition id} of these instances (one query)."""
    if not instance_ids:
        return {}
    rows = session.execute(
        select(ProcessInstance.id, ProcessInstance.definition_id).where(
            ProcessInstance.id.in_(sorted(instance_ids))
        )
    )
    return {row.id: row.definition_id for row in rows}


def definition_names(session: Session, definition: ProcessDefinition) -> DiagramNames:
    """The names of a deployed version (read from its diagram once per process)."""
    return cached_names(
        definition.content_hash,
        definition.bpmn_file,
        definition.process_key,
        lambda: definition_file(session, definition, definition.bpmn_file),
    )
