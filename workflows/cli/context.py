"""What every command shares: settings and runtime built once, JSON in and out, failing with a message."""

from __future__ import annotations

import getpass
import json
import sys
from decimal import Decimal
from typing import Any, NoReturn

import click

from handlers.registry import build_operations
from workflows.engine.runner import Runtime
from workflows.errors import DomainError
from workflows.settings import Settings, SettingsError, load_settings
from workflows.store.db import make_engine
from workflows.store.jsonable import to_jsonable
from workflows.users import Actor, actor_for, get_user, operator_actor


class Context:
    """Settings and runtime, built once per command invocation."""

    def __init__(self) -> None:
        try:
            self.settings: Settings = load_settings()
        except SettingsError as exc:
            raise click.ClickException(f"invalid configuration: {exc}") from exc
        self._rt: Runtime | None = None

    @property
    def rt(self) -> Runtime:
        if self._rt is None:
            engine = make_engine(self.settings.database)
            # Pooled connections are closed when the command ends (PostgreSQL warns about leaked ones).
            click.get_current_context().call_on_close(engine.dispose)
            try:
                self._rt = Runtime(engine, self.settings, build_operations())
            except SettingsError as exc:  # a real clock on a database with a simulated one
                raise click.ClickException(f"invalid configuration: {exc}") from exc
        return self._rt

    @staticmethod
    def operator() -> str:
        """Who runs this command, as the audit trail names them: `cli:` and the operating-system account.

        `system` is creditflow itself (timers, batch runs); a person at the shell is not.
        """
        return Context.operator_actor().username

    @staticmethod
    def operator_actor() -> Actor:
        """The person at the shell: admin rights (as the CLI always had), named `cli:ACCOUNT`."""
        try:
            account = getpass.getuser()
        except (OSError, KeyError):  # no LOGNAME/USER and no passwd entry for the uid (some containers)
            account = "unknown"
        return operator_actor(account)

    def actor(self, username: str | None) -> Actor:
        """The named user's Actor; without a name, the shell operator (admin rights, named `cli:ACCOUNT`)."""
        if not username:
            return self.operator_actor()
        with self.rt.factory() as session:
            user = domain_call(get_user, session, username)
            if not user.active:  # a deactivated account signs nothing, as it cannot log in or use a token
                fail(f"error (forbidden): user {username!r} is deactivated and may not act", 1)
            return actor_for(user)


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def print_json(value: Any) -> None:
    click.echo(json.dumps(to_jsonable(value), indent=2, sort_keys=False))


def parse_json(value: str | None, option: str) -> dict[str, Any]:
    if not value:
        return {}
    try:
        parsed = json.loads(value, parse_float=Decimal)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint=option) from exc
    if not isinstance(parsed, dict):
        raise click.BadParameter("must be a JSON object", param_hint=option)
    return parsed


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def domain_call(func: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return func(*args, **kwargs)
    except DomainError as exc:
        fail(f"error ({exc.code}): {exc.message}", 1)
