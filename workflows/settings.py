"""Load technical settings: config/default.toml < CREDITFLOW_CONFIG file < environment < arguments."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from workflows.clock import CLOCK_MODES, parse_start
from workflows.languages import LANGUAGES

# The directory holding the `workflows` package: the checkout, or site-packages when installed from a wheel.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# config/ and bpmn/ are top-level folders of the checkout (an editable install reads them there too); a
# wheel carries them inside the package as workflows/_shipped/ (the package-dir mapping in pyproject.toml).
_WHEEL_DATA = Path(__file__).resolve().parent / "_shipped"
DATA_ROOT = _WHEEL_DATA if _WHEEL_DATA.is_dir() else PROJECT_ROOT
DEFAULT_CONFIG = DATA_ROOT / "config" / "default.toml"
TEMPLATE_DIR = DATA_ROOT / "config" / "templates"
BPMN_DIR = DATA_ROOT / "bpmn"


class SettingsError(ValueError):
    """A configuration value is missing or has the wrong type."""


@dataclass(frozen=True)
class DatabaseSettings:
    url: str
    busy_timeout_s: int


@dataclass(frozen=True)
class WebSettings:
    host: str
    port: int
    secret_key: str = field(repr=False)
    page_size: int
    secure_cookie: str
    behind_proxy: str
    default_language: str  # workflows.languages.LANGUAGES


@dataclass(frozen=True)
class MailSettings:
    smtp_host: str
    smtp_port: int
    sink_port: int
    sender: str
    username: str
    password: str = field(repr=False)
    use_ssl: bool
    use_starttls: bool
    max_attempts: int
    retry_base_s: int
    company_name: str  # who signs letters and e-mails to customers and suppliers (English, and below Chinese)
    company_name_zh: str


@dataclass(frozen=True)
class SchedulerSettings:
    enabled: bool
    max_sleep_s: int
    daily_hour: int
    lock_file: str
    job_stale_after_s: int
    retry_attempts: int
    retry_base_s: int


@dataclass(frozen=True)
class ClockSettings:
    mode: str  # CLOCK_MODES: "real" or "simulated"
    start: str  # ISO 8601; the simulated clock's time until it is first moved ("" = the real time)


@dataclass(frozen=True)
class EngineSettings:
    max_task_depth: int


@dataclass(frozen=True)
class DunningSettings:
    # The ladder, its grace (level 1), the fees, late-payment interest and the promise limits are policy:
    # bpmn/dunning_policy.dmn and bpmn/dunning_charges.dmn, deployed with the diagram.
    minimum_amount: Decimal
    min_days_between_notices: int
    legal_retry_days: int


@dataclass(frozen=True)
class ReviewSettings:
    utilisation_threshold: Decimal
    overdue_days: int
    cooldown_days: int


@dataclass(frozen=True)
class CreditSettings:
    base_currency: str
    fx_max_move: Decimal  # the largest share a new rate may move from the nearest stored one, unforced


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings
    web: WebSettings
    mail: MailSettings
    scheduler: SchedulerSettings
    clock: ClockSettings
    engine: EngineSettings
    dunning: DunningSettings
    reviews: ReviewSettings
    credit: CreditSettings

    def replace(self, section: str, **values: Any) -> Settings:
        """Return a copy with some keys of one section changed (tests and CLI flags use this)."""
        return dataclasses.replace(self, **{section: dataclasses.replace(getattr(self, section), **values)})


SECTIONS: dict[str, type] = {
    "database": DatabaseSettings,
    "web": WebSettings,
    "mail": MailSettings,
    "scheduler": SchedulerSettings,
    "clock": ClockSettings,
    "engine": EngineSettings,
    "dunning": DunningSettings,
    "reviews": ReviewSettings,
    "credit": CreditSettings,
}

# The environment variables of the public contract (README.md, "Configuration") and the key each one sets.
ENVIRONMENT_KEYS: dict[str, tuple[str, str]] = {
    "CREDITFLOW_DATABASE_URL": ("database", "url"),
    "CREDITFLOW_HOST": ("web", "host"),
    "CREDITFLOW_PORT": ("web", "port"),
    "CREDITFLOW_SECRET_KEY": ("web", "secret_key"),
    "CREDITFLOW_SMTP_HOST": ("mail", "smtp_host"),
    "CREDITFLOW_SMTP_PORT": ("mail", "smtp_port"),
    "CREDITFLOW_SMTP_PASSWORD": ("mail", "password"),
    "CREDITFLOW_CLOCK": ("clock", "mode"),
}


def load_settings(environ: Mapping[str, str] | None = None, **overrides: dict[str, Any]) -> Settings:
    """Read the layered configuration; `overrides` maps a section name to the keys it changes.

    Raises:
        SettingsError: a file is unreadable, or a key is unknown or of the wrong type.
    """
    environ = os.environ if environ is None else environ
    raw = _read_toml(DEFAULT_CONFIG)
    extra = environ.get("CREDITFLOW_CONFIG")
    if extra:
        _merge(raw, _read_toml(Path(extra)), source=extra)
    for var, (section, key) in ENVIRONMENT_KEYS.items():
        if environ.get(var):
            raw[section][key] = environ[var]
    for section, values in overrides.items():
        _merge(raw, {section: values}, source="arguments")
    settings = Settings(**{name: _build(cls, name, raw.get(name, {})) for name, cls in SECTIONS.items()})
    _check_clock(settings.clock)
    _check_retries(settings)
    _check_base_currency(settings.credit)
    _check_fx_max_move(settings.credit)
    _check_default_language(settings.web)
    _check_company_names(settings.mail)
    return settings


# Embeddings, overrides and isolates (LRE..RLO, LRI..PDI): in a config value they reorder the letter's close
# and the PDF's first line around them ("Acme \u202eLtd" reads "Acme dtL"); names need none of them.
_BIDI_CONTROLS = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))


def _check_company_names(mail: MailSettings) -> None:
    """One line of text each: the name closes letters and heads the PDF letters' first line. Every break
    str.splitlines() knows is a C0/C1 control but the line and paragraph separators U+2028/U+2029."""
    for key, name in (("company_name", mail.company_name), ("company_name_zh", mail.company_name_zh)):
        if len(name) > 200 or any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029" for c in name):
            raise SettingsError(f"mail.{key} must be one line of at most 200 characters, got {name[:40]!r}")
        if bidi := sorted({f"U+{ord(c):04X}" for c in name if c in _BIDI_CONTROLS}):
            controls = ", ".join(bidi)
            raise SettingsError(
                f"mail.{key} must not hold bidirectional control characters ({controls}), got {name[:40]!r}"
            )


def _check_default_language(web: WebSettings) -> None:
    if web.default_language not in LANGUAGES:
        raise SettingsError(
            f"web.default_language must be one of {', '.join(LANGUAGES)}, got {web.default_language!r}"
        )


MAX_RETRY_ATTEMPTS, MAX_RETRY_BASE_S = 20, 86_400  # the last delay: at most base * 2**19 (a day: 1,436 years)


def _check_retries(settings: Settings) -> None:
    """Backoff that backs off: a base of 0 retried every round (a storm), a sleep cap of 0 woke at once
    for ever, and past about 33 attempts base * 2**n overflowed the date, so the failure could not even be
    recorded and the item was tried again every round instead of waiting for an admin."""
    checks = [
        ("scheduler.max_sleep_s", settings.scheduler.max_sleep_s, 1, None),
        ("scheduler.retry_base_s", settings.scheduler.retry_base_s, 1, MAX_RETRY_BASE_S),
        ("scheduler.retry_attempts", settings.scheduler.retry_attempts, 0, MAX_RETRY_ATTEMPTS),
        ("mail.retry_base_s", settings.mail.retry_base_s, 1, MAX_RETRY_BASE_S),
        ("mail.max_attempts", settings.mail.max_attempts, 1, MAX_RETRY_ATTEMPTS),
    ]
    for name, value, low, high in checks:
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise SettingsError(f"{name} must be {bounds}, got {value}")


def _check_base_currency(credit: CreditSettings) -> None:
    code = credit.base_currency
    if len(code) != 3 or not code.isascii() or not code.isalpha() or not code.isupper():
        raise SettingsError(
            f"credit.base_currency must be a three-letter ISO 4217 code such as EUR, got {code!r}"
        )


def _check_fx_max_move(credit: CreditSettings) -> None:
    """A share of the previous rate: 0 would refuse every new rate, 1 or more would let a rate fall to
    nothing (a CHF rate of 0.0000000001 weighs a CHF 900,000 limit as EUR 0.00, the analyst's alone)."""
    move = credit.fx_max_move
    if not move.is_finite() or not Decimal(0) < move < Decimal(1):
        raise SettingsError(
            f'credit.fx_max_move must be a share above 0 and below 1 such as "0.25", got {move}'
        )


def _check_clock(clock: ClockSettings) -> None:
    if clock.mode not in CLOCK_MODES:
        raise SettingsError(
            f"clock.mode must be one of {', '.join(CLOCK_MODES)} ([clock] mode or CREDITFLOW_CLOCK), "
            f"got {clock.mode!r}"
        )
    try:
        parse_start(clock.start)
    except ValueError as exc:
        raise SettingsError(
            f'clock.start must be an ISO 8601 time such as "2026-03-02T09:00:00+00:00" or "", '
            f"got {clock.start!r}"
        ) from exc


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read configuration file {path}: {exc}") from exc


def _merge(base: dict[str, Any], extra: Mapping[str, Any], *, source: str) -> None:
    for section, values in extra.items():
        if section not in SECTIONS or not isinstance(values, Mapping):
            raise SettingsError(f"{source}: unknown configuration section [{section}]")
        # Checked here, not only in _build, so the message names the file that has the typo.
        unknown = set(values) - {f.name for f in fields(SECTIONS[section])}
        if unknown:
            raise SettingsError(f"{source}: unknown key(s) {sorted(unknown)} in [{section}]")
        base.setdefault(section, {}).update(values)


def _build(cls: type, section: str, values: Mapping[str, Any]) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = set(values) - set(known)
    if unknown:
        raise SettingsError(f"unknown key(s) {sorted(unknown)} in [{section}]")
    kwargs = {}
    for name, f in known.items():
        if name not in values:
            raise SettingsError(f"[{section}] {name} is missing from {DEFAULT_CONFIG}")
        kwargs[name] = _coerce(values[name], f.type, f"{section}.{name}")
    return cls(**kwargs)


def _coerce(value: Any, type_name: Any, key: str) -> Any:
    if str(type_name) == "Decimal":
        try:
            return Decimal(str(value))
        except InvalidOperation as exc:
            raise SettingsError(f'{key} must be a decimal number such as "40.00", got {value!r}') from exc
    target = {"str": str, "int": int, "bool": bool}[str(type_name)]
    if isinstance(value, target) and not (target is int and isinstance(value, bool)):
        return value
    if isinstance(value, str):
        if target is int and value.strip().lstrip("-").isdigit():
            return int(value)
        if target is bool and value.lower() in ("1", "true", "yes", "0", "false", "no"):
            return value.lower() in ("1", "true", "yes")
    raise SettingsError(f"{key} must be of type {target.__name__}, got {value!r}")
