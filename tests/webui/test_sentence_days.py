"""Days inside the sentences people read (issue 20 leftover): a page, a flash or a JSON API `message` writes
a sentence's day as its reader writes days ("14 Jan 2027", "2027年1月14日"), while the sentence itself (a
workflows.messages.Text: logs, the CLI) and the JSON's own fields keep ISO days. The provision run's "already
posted" conflict is such a sentence too, not an English f-string."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import gettext

from tests.helpers import auth
from webui.stored_sentences import dated
from workflows.credit.provision_snapshots import AlreadyPosted, post_run
from workflows.errors import Conflict
from workflows.messages import Text, translated
from workflows.store.db import transaction
from workflows.users import SYSTEM_ACTOR

pytestmark = pytest.mark.usefixtures("shipped")

ZH, EN = "zh-CN,zh;q=0.9", "en-GB,en;q=0.8"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_sentence_s_days_are_written_as_each_reader_writes_them(app: Flask) -> None:
    with app.test_request_context("/", headers={"Accept-Language": EN}):
        assert dated("2027-01-14") == "14 Jan 2027" and dated(date(2027, 1, 14)) == "14 Jan 2027"
        assert dated("2027-01-14T09:00:00+00:00") == "14 Jan 2027 09:00"
        assert dated("2027-02-30") == "2027-02-30" and dated(7) == 7 and dated("2027") == "2027"
    with app.test_request_context("/", headers={"Accept-Language": ZH}):
        assert dated("2027-01-14T09:00:00+00:00") == "2027年1月14日 09:00"


def test_a_json_message_writes_its_day_for_the_caller(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    said = {}
    for language in (ZH, EN):
        headers = {**auth(demo_tokens["cfo1"]), "Accept-Language": language}
        answer = client.get("/api/provisions?as_of=2026-01-31", headers=headers)
        assert answer.status_code == 404, answer.get_data(as_text=True)
        said[language] = answer.json["error"]["message"]
    assert said[EN].startswith("no provision snapshot was posted on or before 31 Jan 2026;"), said[EN]
    assert "2026年1月31日" in said[ZH] and "2026-01-31" not in said[ZH], said[ZH]


def test_the_provision_run_already_posted_is_said_in_the_reader_s_language(app: Flask) -> None:
    rt = app.extensions["creditflow"].rt
    with transaction(rt.factory) as session:
        post_run(session, date(2026, 1, 31), base="EUR", actor=SYSTEM_ACTOR, now=NOW)
    with transaction(rt.factory) as session, pytest.raises(AlreadyPosted) as refused:
        post_run(session, date(2026, 1, 31), base="EUR", actor="finance1", now=NOW)
    sentence = refused.value.message
    assert isinstance(sentence, Text)
    # The sentence itself (the CLI prints it, the log keeps it) keeps ISO days.
    assert str(sentence).startswith(
        "the provision run of 2026-01-31 was posted by the system at 2026-03-02T09"
    )
    with app.test_request_context("/", headers={"Accept-Language": EN}):
        english = translated(sentence, gettext, dated)
    with app.test_request_context("/", headers={"Accept-Language": ZH}):
        chinese = translated(sentence, gettext, dated)
    assert english == (
        "the provision run of 31 Jan 2026 was posted by the system at 2 Mar 2026 09:00; snapshots are posted "
        "once per month end, in order"
    )
    assert chinese == (
        "2026年1月31日的坏账准备计提已于 2026年3月2日 09:00 过账（过账人：系统）；"
        "每个月末只过账一次，须按月末依次过账"
    )
    # A gap's details name the missing month end for programs: ISO, not a sentence.
    with transaction(rt.factory) as session, pytest.raises(Conflict) as gap:
        post_run(
            session, date(2026, 3, 31), base="EUR", actor="finance1", now=datetime(2026, 4, 1, tzinfo=UTC)
        )
    assert gap.value.details == {"fields": {"as_of": "2026-02-28"}}


def test_a_stored_english_sentence_writes_its_day_on_an_english_page(app: Flask) -> None:
    """What the domain stored as English text (an incident's sentence, a job day's error) is read back
    from the catalogue's msgids and its day written as the page writes days; other text stays as stored."""
    from webui.stored_sentences import said_stored

    stored = (
        "no exchange rate USD->CNY on or before 2027-01-14; post one (POST /api/fx-rates "
        "or `creditflow import fx-rates`) before this step can convert"
    )
    with app.test_request_context("/", headers={"Accept-Language": EN}):
        assert said_stored(stored) == stored.replace("2027-01-14", "14 Jan 2027")
        assert said_stored(f"MissingRate: {stored}") == f"MissingRate: {stored}".replace(
            "2027-01-14", "14 Jan 2027"
        )
        assert said_stored("typed on 2027-01-14 by a person") == "typed on 2027-01-14 by a person"
        assert said_stored("the formula") == "the formula"
    with app.test_request_context("/", headers={"Accept-Language": ZH}):
        assert "2027年1月14日" in said_stored(stored)


def test_a_provision_run_without_a_rate_is_said_in_the_reader_s_language(app: Flask) -> None:
    from workflows.credit.provisions import MissingRates

    refused = MissingRates(["USD", "GBP"], date(2026, 1, 31), "EUR")
    assert isinstance(refused.message, Text) and "on or before 2026-01-31 for USD, GBP" in refused.message
    assert refused.details == {"missing_rates": ["USD", "GBP"]}
    with app.test_request_context("/", headers={"Accept-Language": EN}):
        assert "on or before 31 Jan 2026 for USD, GBP" in translated(refused.message, gettext, dated)
    with app.test_request_context("/", headers={"Accept-Language": ZH}):
        said = translated(refused.message, gettext, dated)
    assert said.startswith("2026年1月31日 及之前没有 USD, GBP→EUR 的汇率"), said


def test_a_typed_value_the_sentence_quotes_is_never_written_as_a_day(app: Flask) -> None:
    # What the asker typed ('%(status)s', %(x)r) is echoed as typed, a Text's and a stored sentence's alike;
    # a day our code fills in (unquoted) is still written for the reader.
    from webui.stored_sentences import said_stored

    typed = Text("no dispute status '%(status)s'", status="2026-01-01")
    for language, quoted in ((EN, "'2026-01-01'"), (ZH, "“2026-01-01”")):
        with app.test_request_context("/", headers={"Accept-Language": language}):
            assert quoted in translated(typed, gettext, dated), language
            assert quoted in said_stored(str(typed)), language
    with app.test_request_context("/", headers={"Accept-Language": ZH}):
        assert "2027年1月14日" in said_stored("no USD->CNY rate on or before 2027-01-14")
