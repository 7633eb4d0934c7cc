"""Credentials out of stored failure texts: a handler's exception may quote a connection string.

An incident's message and traceback are stored, shown to administrators, exported with the audit trail to
auditors and written to logs; a database or SMTP password inside them would be read by all of those. The
password of a URL (`postgresql://user:secret@host`) and the value of a `password=` / `pwd=` / `PGPASSWORD=` /
`'password': ` / `secret=` / `token=` / `api_key=` pair (libpq's key-value DSNs, ODBC strings, environment
variables, a dict's repr) are replaced by ***; the rest of the text is kept, since it is what an
administrator needs to find the cause.

Every repeat that could backtrack is bounded, so a long or hostile text costs linear time (an exception
text is whatever a handler or a driver wrote); an unquoted value's run is not, as it ends the pattern and is
never given back. A URL's password over 200 characters is not recognised.
"""

from __future__ import annotations

import re

MASK = "***"
# scheme://user:password@host -> scheme://user:***@host; up to the last @ of the URL, so a password with an
# unescaped @ is masked whole, never in part.
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]{0,30}://[^\s:/@]{0,200}:)[^\s]{1,200}(?=@[^\s@]{0,200})"
)
# password=secret, pwd='se cret', PASSWORD = "x", PGPASSWORD=x, db_password: x, {'password': 'x'} (libpq
# key=value DSNs, ODBC strings, environment variables, a dict's or JSON's repr), and the other names a
# credential goes by (secret, token, api_key). The key may carry a prefix (PG, DB_, client_) and its own
# closing quote. An unquoted value runs to the next separator however long it is: a bounded run would mask
# its first 200 characters and show the rest.
_KEY_PASSWORD = re.compile(
    r"(?P<head>\b[\w.-]{0,40}?(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)"
    r"['\"]?[ \t]{0,10}[=:][ \t]{0,10})"
    r"(?:'[^'\n]{1,1000}'|\"[^\"\n]{1,1000}\"|['\"]{0,2}[^\s;,&'\"}]+)",
    re.IGNORECASE,
)
_KEY_WORDS = ("pass", "pwd", "secret", "token", "key")


def redacted(text: str) -> str:
    """`text` with the passwords it quotes replaced by ***."""
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    lowered = text.lower()
    if any(word in lowered for word in _KEY_WORDS):
        text = _KEY_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    return text
