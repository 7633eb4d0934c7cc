"""The Runtime: what every step needs, built once per process by an entry point and passed down."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from workflows.clock import Clock
from workflows.definitions import compile
from workflows.definitions.versions import form_schema, latest_definition
from workflows.engine.service_tasks import Operation
from workflows.errors import NotFound
from workflows.mail.sender import session_info
from workflows.messages import _
from workflows.settings import Settings
from workflows.store.db import make_session_factory
from workflows.store.models import DefinitionStatus, Deployment, ProcessDefinition
from workflows.store.stored_clock import clock_for

# The newest active version's id: read at every start (a deploy or an approval in another process changes it),
# as one Core row instead of an ORM load of the whole definition, which `definition` then has cached.
_LATEST_ACTIVE = (
    select(ProcessDefinition.id)
    .where(
        ProcessDefinition.process_key == bindparam("key"), ProcessDefinition.status == DefinitionStatus.ACTIVE
    )
    .order_by(ProcessDefinition.version.desc())
    .limit(1)
)


@dataclass
class Runtime:
    """What every step needs: the database, settings and service operations (one per process, passed down)."""

    engine: Engine
    settings: Settings
    # The service operation table (handlers.registry.build_operations), handed in by the entry point.
    operations: Mapping[str, Operation]
    factory: sessionmaker[Session] = field(init=False)
    # "now" for every action of this process: the wall clock, or the database's simulated clock.
    clock: Clock = field(init=False)
    _specs: dict[int, compile.LoadedSpec] = field(default_factory=dict)
    _forms: dict[tuple[int, str | None], dict[str, Any]] = field(default_factory=dict)
    _definitions: dict[int, ProcessDefinition] = field(default_factory=dict)
    _tables: dict[int, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.factory = make_session_factory(self.engine, session_info(self.settings.mail))
        self.clock = clock_for(self.settings.clock, self.factory)

    def definition(self, session: Session, definition_id: int) -> ProcessDefinition:
        """A deployed version (immutable once deployed, so cached detached for the process's life)."""
        found = self._definitions.get(definition_id)
        if found is None:
            found = session.get(ProcessDefinition, definition_id)
            if found is None:
                raise NotFound(_("process definition %(id)s does not exist", id=definition_id))
            session.expunge(found)
            self._definitions[definition_id] = found
        return found

    def latest(self, session: Session, process_key: str) -> ProcessDefinition:
        """The newest active version of a key, what a new instance starts (as versions.latest_definition).

        Raises:
            NotFound: the key has no active version (the message says why, as latest_definition's).
        """
        found = session.connection().execute(_LATEST_ACTIVE, {"key": process_key}).scalar()
        if found is None:
            definition = latest_definition(session, process_key)  # raises, saying why
            assert definition is not None
            return definition
        return self.definition(session, found)

    def spec_for(self, session: Session, definition_id: int) -> compile.LoadedSpec:
        """The compiled spec of a definition version, restored once per process."""
        loaded = self._specs.get(definition_id)
        if loaded is None:
            spec_json = session.scalar(
                select(ProcessDefinition.spec_json).where(ProcessDefinition.id == definition_id)
            )
            if spec_json is None:
                raise NotFound(_("process definition %(id)s does not exist", id=definition_id))
            loaded = self._specs[definition_id] = compile.load_spec(spec_json)
        return loaded

    def decision_tables(self, session: Session, definition_id: int) -> frozenset[str]:
        """The texts of the DMN files deployed with a version (immutable, read once per process): whether a
        table a handler evaluates is its instance's own, which its decision log row can name."""
        found = self._tables.get(definition_id)
        if found is None:
            files = session.scalar(
                select(Deployment.files)
                .join(ProcessDefinition, ProcessDefinition.deployment_id == Deployment.id)
                .where(ProcessDefinition.id == definition_id)
            )
            texts = (files or {}).items()
            found = frozenset(t for name, t in texts if name.endswith(".dmn") and isinstance(t, str))
            self._tables[definition_id] = found
        return found

    def start_schema(self, session: Session, definition: ProcessDefinition) -> dict[str, Any]:
        """The JSON schema of the process's start data (`<key>_start.json`), or {} when it has none."""
        name = f"{definition.process_key}_start.json"
        key = (definition.id, name)
        if key not in self._forms:
            deployment = session.get(Deployment, definition.deployment_id)
            assert deployment is not None
            self._forms[key] = form_schema(definition, deployment, name) if name in deployment.files else {}
        return self._forms[key]

    def form_for(
        self, session: Session, definition: ProcessDefinition, form_file: str | None
    ) -> dict[str, Any]:
        """A task's form schema, parsed once per definition version."""
        key = (definition.id, form_file)
        if key not in self._forms:
            deployment = session.get(Deployment, definition.deployment_id)
            assert deployment is not None
            self._forms[key] = form_schema(definition, deployment, form_file)
        return self._forms[key]
