"""Settings: every key documented in config/default.toml, and the order default < file < environment."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from workflows.settings import DEFAULT_CONFIG, ENVIRONMENT_KEYS, SECTIONS, SettingsError, load_settings

# The environment variables the README promises, and the key each one sets.
CONTRACT_ENVIRONMENT = {
    "CREDITFLOW_DATABASE_URL": ("database", "url"),
    "CREDITFLOW_HOST": ("web", "host"),
    "CREDITFLOW_PORT": ("web", "port"),
    "CREDITFLOW_SMTP_HOST": ("mail", "smtp_host"),
    "CREDITFLOW_SMTP_PORT": ("mail", "smtp_port"),
}
OVERRIDE_FILE = """\
[database]
url = "sqlite:////from/file.db"

[web]
host = "10.0.0.1"
port = 6000

[mail]
smtp_host = "file.example"
smtp_port = 2525
sender = "file@example.com"

[scheduler]
enabled = false
"""
KEY_LINE = re.compile(r"^\w+\s*=")


def write_config(tmp_path: Path, text: str) -> dict[str, str]:
    """An environment naming a CREDITFLOW_CONFIG file with this text."""
    path = tmp_path / "override.toml"
    path.write_text(text)
    return {"CREDITFLOW_CONFIG": str(path)}


def test_every_settings_field_has_a_key_in_default_toml_and_vice_versa() -> None:
    documented = tomllib.loads(DEFAULT_CONFIG.read_text())
    assert set(documented) == set(SECTIONS)
    for section, cls in SECTIONS.items():
        assert set(documented[section]) == {f.name for f in fields(cls)}, section


def test_every_key_in_default_toml_has_a_comment() -> None:
    """Each key sits in a run of keys that starts right below a comment line."""
    undocumented = []
    previous = ""
    for line in DEFAULT_CONFIG.read_text().splitlines():
        line = line.strip()
        if KEY_LINE.match(line) and not (previous.startswith("#") or KEY_LINE.match(previous)):
            undocumented.append(line)
        previous = line
    assert undocumented == []


def test_defaults_load_without_any_environment() -> None:
    settings = load_settings({})
    assert (settings.web.host, settings.web.port) == ("127.0.0.1", 5000)
    assert settings.database.url == "sqlite:///var/creditflow.db"
    assert settings.mail.smtp_host == ""  # empty: the built-in sink


def test_contract_environment_variables_are_all_honoured() -> None:
    assert CONTRACT_ENVIRONMENT.items() <= ENVIRONMENT_KEYS.items()


def test_config_file_overrides_default_toml(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, OVERRIDE_FILE))
    assert settings.database.url == "sqlite:////from/file.db"
    assert (settings.web.host, settings.web.port) == ("10.0.0.1", 6000)
    assert (settings.mail.smtp_host, settings.mail.smtp_port) == ("file.example", 2525)
    assert settings.mail.sender == "file@example.com"
    assert settings.scheduler.enabled is False
    assert settings.web.page_size == 50  # keys the file leaves out keep their default


def test_environment_overrides_config_file(tmp_path: Path) -> None:
    environ = {
        **write_config(tmp_path, OVERRIDE_FILE),
        "CREDITFLOW_DATABASE_URL": "sqlite:////from/env.db",
        "CREDITFLOW_HOST": "0.0.0.0",
        "CREDITFLOW_PORT": "7000",
        "CREDITFLOW_SMTP_HOST": "env.example",
        "CREDITFLOW_SMTP_PORT": "587",
    }
    settings = load_settings(environ)
    assert settings.database.url == "sqlite:////from/env.db"
    assert (settings.web.host, settings.web.port) == ("0.0.0.0", 7000)
    assert (settings.mail.smtp_host, settings.mail.smtp_port) == ("env.example", 587)
    assert settings.mail.sender == "file@example.com"  # no variable for it: the file still wins


def test_explicit_arguments_override_environment(tmp_path: Path) -> None:
    environ = {**write_config(tmp_path, OVERRIDE_FILE), "CREDITFLOW_PORT": "7000"}
    assert load_settings(environ, web={"port": 8000}).web.port == 8000


@pytest.mark.parametrize(
    ("variable", "key"), [("CREDITFLOW_PORT", "web.port"), ("CREDITFLOW_SMTP_PORT", "mail.smtp_port")]
)
def test_bad_environment_value_names_the_key_and_type(variable: str, key: str) -> None:
    with pytest.raises(SettingsError, match=rf"{re.escape(key)} must be of type int, got 'abc'"):
        load_settings({variable: "abc"})


def test_bad_value_in_config_file_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"scheduler\.enabled must be of type bool"):
        load_settings(write_config(tmp_path, '[scheduler]\nenabled = "sometimes"\n'))


def test_unknown_key_in_config_file_is_an_error(tmp_path: Path) -> None:
    environ = write_config(tmp_path, "[web]\nprot = 6000\n")
    with pytest.raises(SettingsError, match=r"prot") as info:
        load_settings(environ)
    assert "override.toml" in str(info.value)  # the message names the file to fix


def test_unknown_section_in_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"unknown configuration section \[webserver\]"):
        load_settings(write_config(tmp_path, "[webserver]\nport = 6000\n"))


@pytest.mark.parametrize("text", [None, "[web\nport = 1\n"], ids=["missing", "not-toml"])
def test_unreadable_config_file_is_an_error(tmp_path: Path, text: str | None) -> None:
    environ = {"CREDITFLOW_CONFIG": str(tmp_path / "override.toml")}
    if text is not None:
        write_config(tmp_path, text)
    with pytest.raises(SettingsError, match=r"cannot read configuration file .*override\.toml"):
        load_settings(environ)


def test_clock_mode_is_real_by_default_and_simulated_from_the_environment() -> None:
    assert load_settings({}).clock.mode == "real"
    assert load_settings({"CREDITFLOW_CLOCK": "simulated"}).clock.mode == "simulated"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"mode": "frozen"}, r"clock\.mode must be one of real, simulated .*got 'frozen'"),
        ({"start": "next monday"}, r"clock\.start must be an ISO 8601 time .*got 'next monday'"),
    ],
)
def test_bad_clock_settings_name_the_key(section: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({}, clock=section)
