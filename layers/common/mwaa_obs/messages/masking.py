"""Secrets masked out of text a workflow wrote (task logs, error messages) before anyone else reads it.

A message goes to a whole channel or mailing list, a view to whoever opens the dashboard: wider audiences than the
people allowed to read the workflow's logs. What looks like a credential is replaced by MASK, keeping what names
it (the key of a `key=value`, the kind of an access key id) so that a reader still sees where it was:

- AWS access key ids (AKIA…, ASIA…: kept as their 4-letter kind), 40-character secret access keys (mixed case and
  digits, alone), and session tokens (the IQoJb3JpZ2lu / FwoGZXIvYXdz forms);
- the value of any `key=value`, `key: value`, `"key": "value"` or `--key value` whose key names a secret (password,
  passwd, pwd, secret, token, api_key, access_key, private_key, credential, authorization, signature);
- credentials in a URL (`scheme://user:password@host` keeps the user), Authorization's Bearer and Basic values;
- Slack webhook URLs and tokens (xoxb-, xapp-), GitHub tokens (ghp_, github_pat_), JSON web tokens, and PEM private
  key blocks.

Masking comes before any cut: a cut secret would no longer look like one. It is idempotent (masked text masks to
itself) and never lengthens a line by more than a few characters.
"""

from __future__ import annotations

import re
from typing import Final

MASK: Final = "****"

# A key that names a secret (a pattern, not a secret)
_NAMING_A_SECRET: Final = (
    r"[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?"  # noqa: S105
    r"|authorization|signature)[\w.-]*"
)

_RULES: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    # PEM private keys, whole blocks (to the end of the text when the block was cut)
    (
        re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S),
        rf"-----BEGIN \1PRIVATE KEY-----{MASK}-----END \1PRIVATE KEY-----",
    ),
    # Slack incoming webhooks (the path is the credential) and tokens
    (re.compile(r"(?:https?://)?hooks\.slack(?:-gov)?\.com/[^\s'\"<>`]+"), f"https://hooks.slack.com/{MASK}"),
    (re.compile(r"\b(xox[abposr]|xapp)-[A-Za-z0-9-]{8,}"), rf"\1-{MASK}"),
    # GitHub tokens
    (re.compile(r"\b(gh[pousr]_|github_pat_)[A-Za-z0-9_]{20,}"), rf"\1{MASK}"),
    # JSON web tokens (header.payload.signature, base64url)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), f"eyJ{MASK}"),
    # AWS session tokens (their base64 starts with these whatever the key)
    (re.compile(r"\b(?:IQoJb3JpZ2lu|FwoGZXIvYXdz)[A-Za-z0-9/+=]+"), MASK),
    # AWS access key ids: the kind stays (AKIA long-term, ASIA temporary), the id goes
    (re.compile(r"\b(AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z0-9]{16}\b"), rf"\1{MASK}"),
    # Credentials in a URL: the user stays, the password goes
    (re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@'\"]+:)[^\s@/'\"]+@"), rf"\1{MASK}@"),
    # Authorization header values
    (re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE), rf"\1 {MASK}"),
    # key=value, key: value, "key": "value" whose key names a secret
    (
        re.compile(
            rf"""(["']?{_NAMING_A_SECRET}["']?\s*[=:]\s*)(?!{re.escape(MASK)}|Bearer\b|Basic\b)(?:"[^"\n]*"|'[^'\n]*'|[^\s,;&'"}}\]\)]+)""",
            re.IGNORECASE,
        ),
        rf"\1{MASK}",
    ),
    # A command-line flag that names a secret, and its argument (--password hunter2)
    (re.compile(rf"(--{_NAMING_A_SECRET}\s+)(?!{re.escape(MASK)})[^\s-][^\s]*", re.IGNORECASE), rf"\1{MASK}"),
    # A 40-character AWS secret access key on its own: base64's alphabet with upper case, lower case and a digit
    # (a hex digest, lower case only, is not one)
    (
        re.compile(
            r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]{0,39}[A-Z])(?=[A-Za-z0-9/+]{0,39}[a-z])(?=[A-Za-z0-9/+]{0,39}[0-9])"
            r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
        ),
        MASK,
    ),
)


def mask_secrets(text: str) -> str:
    """The text with every value that looks like a credential replaced by MASK."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
