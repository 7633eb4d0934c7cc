"""Attack: configure the backoff so that it does not back off.

`[scheduler] retry_base_s = 0` retried a broken instance every round, once a second (a retry storm and a
log line each time); `max_sleep_s = 0` woke the scheduler again at once, for ever; and a generous
`retry_attempts = 60` (or `[mail] max_attempts`) overflowed `base * 2**n` past about 33 attempts: the
failure could not be recorded, the item stayed due and ran again every round instead of waiting for an
admin. Such settings are refused at startup, naming the key and its range.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from workflows.engine.wakeups import retry_delay
from workflows.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("section", "values", "key"),
    [
        ("scheduler", {"retry_base_s": 0}, "scheduler.retry_base_s"),
        ("scheduler", {"retry_base_s": -60}, "scheduler.retry_base_s"),
        ("scheduler", {"max_sleep_s": 0}, "scheduler.max_sleep_s"),
        ("scheduler", {"retry_attempts": 60}, "scheduler.retry_attempts"),
        ("scheduler", {"retry_base_s": 10**12}, "scheduler.retry_base_s"),
        ("mail", {"retry_base_s": 0}, "mail.retry_base_s"),
        ("mail", {"max_attempts": 80}, "mail.max_attempts"),
        ("mail", {"max_attempts": 0}, "mail.max_attempts"),
    ],
)
def test_backoff_that_does_not_back_off_is_refused(section: str, values: dict[str, int], key: str) -> None:
    with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
        load_settings({}, **{section: values})


def test_every_retry_of_the_largest_accepted_backoff_has_a_date() -> None:
    settings = load_settings({}, scheduler={"retry_attempts": 20, "retry_base_s": 86_400})
    now = datetime(2999, 1, 1, tzinfo=UTC)
    for attempt in range(1, settings.scheduler.retry_attempts + 1):
        delay = retry_delay(settings.scheduler, attempt)
        assert delay is None or now + delay > now
