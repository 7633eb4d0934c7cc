"""Credentials out of stored failure texts: a handler's exception may quote a connection string.

An incident's message and traceback are stored, shown to administrators, exported with the audit trail to
auditors and written to logs; a database or SMTP password inside them would be read by all of those. The
password of a URL (`postgresql://user:secret@host`) and the value of a `password=` / `pwd=` pair (libpq's
key-value DSNs, ODBC strings) are replaced by ***; the rest of the text is kept, since it is what an
administrator needs to find the cause.

Every repeat in the patterns is bounded, so a long or hostile text costs linear time (an exception text
is whatever a handler or a driver wrote). A password over 200 characters is not recognised.
"""

from __future__ import annotations

import re

MASK = "***"
# scheme://user:password@host -> scheme://user:***@host; up to the last @ of the URL, so a password with an
# unescaped @ is masked whole, never in part.
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]{0,30}://[^\s:/@]{0,200}:)[^\s]{1,200}(?=@[^\s@]{0,200})"
)
# password=secret, pwd='se cret', PASSWORD = "x"  (libpq key=value DSNs, ODBC strings, echoed settings)
_KEY_PASSWORD = re.compile(
    r"(?P<head>\b(?:password|passwd|pwd)[ \t]{0,10}[=:][ \t]{0,10})"
    r"(?:'[^'\n]{0,200}'|\"[^\"\n]{0,200}\"|['\"]?[^\s;,&'\"]{1,200})",
    re.IGNORECASE,
)


def redacted(text: str) -> str:
    """`text` with the passwords it quotes replaced by ***."""
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    lowered = text.lower()
    if "pass" in lowered or "pwd" in lowered:
        text = _KEY_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    return text
