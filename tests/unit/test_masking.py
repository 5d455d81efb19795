"""Secrets masked out of a workflow's text before it is shown: each rule, whatever surrounds the secret."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mwaa_obs.messages.masking import MASK, mask_secrets

UPPER_DIGITS = string.ascii_uppercase + string.digits
BASE64 = string.ascii_letters + string.digits + "/+"
# Text around a secret: anything but the characters a secret is made of, so that it stays one token
SURROUNDINGS = st.text(alphabet=st.characters(blacklist_characters=BASE64 + "=_-.:@'\"", codec="utf-8"), max_size=40)

access_key_ids = st.builds(
    lambda kind, rest: kind + rest,
    st.sampled_from(["AKIA", "ASIA", "AROA", "AIDA"]),
    st.text(alphabet=UPPER_DIGITS, min_size=16, max_size=16),
)
secret_access_keys = st.text(alphabet=BASE64, min_size=40, max_size=40).filter(
    lambda key: any(c.isupper() for c in key) and any(c.islower() for c in key) and any(c.isdigit() for c in key)
)
secret_names = st.sampled_from(
    ["password", "PASSWORD", "db_password", "passwd", "secret", "client_secret", "SECRET_KEY", "token",
     "auth_token", "api_key", "apiKey", "x-api-key", "aws_secret_access_key", "private_key", "credentials"]
)  # fmt: skip
values = st.text(alphabet=string.ascii_letters + string.digits + "!#$%^*", min_size=6, max_size=30)


@given(access_key_ids, SURROUNDINGS, SURROUNDINGS)
def test_an_access_key_id_is_masked_keeping_its_kind(key: str, before: str, after: str) -> None:
    masked = mask_secrets(f"{before} {key} {after}")
    assert key not in masked
    assert f"{key[:4]}{MASK}" in masked


@given(secret_access_keys, SURROUNDINGS, SURROUNDINGS)
def test_a_secret_access_key_alone_is_masked(key: str, before: str, after: str) -> None:
    assert key not in mask_secrets(f"{before} {key} {after}")


@given(secret_names, values, st.sampled_from(["{k}={v}", "{k}: {v}", '"{k}": "{v}"', "{k}='{v}'", "--{k} {v}"]))
def test_the_value_of_a_key_that_names_a_secret_is_masked(name: str, value: str, form: str) -> None:
    text = "connecting with " + form.format(k=name, v=value) + " and retrying"
    masked = mask_secrets(text)
    assert value not in masked
    assert name in masked  # where it was stays readable


@given(st.text(max_size=300))
def test_masking_is_idempotent(text: str) -> None:
    once = mask_secrets(text)
    assert mask_secrets(once) == once


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        ("posting to https://hooks.slack.com/services/T0123/B0456/abcdefXYZ now", "T0123/B0456", "hooks.slack.com"),
        ("token xoxb-1234567890-abcdefghij used", "1234567890-abcdefghij", "xoxb-"),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789 pushed", "abcdefghijklmnopqrstuvwxyz", "ghp_"),
        ("connect postgres://etl_user:s3cr3t-pw@db.internal:5432/sales", "s3cr3t-pw", "etl_user"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "eyJzdWIiOiIxIn0", "Authorization: Bearer"),
        ("header Basic dXNlcjpwYXNzd29yZA== sent", "dXNlcjpwYXNzd29yZA==", "Basic"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEA", "RSA"),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg (cut here)", "MIIEvQIBADANBg", "BEGIN PRIVATE KEY"),
        ("session IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ", "IQoJb3JpZ2luX2Vj", "session"),
    ],
)
def test_each_kind_of_credential_is_masked(text: str, hidden: str, kept: str) -> None:
    masked = mask_secrets(text)
    assert hidden not in masked
    assert kept in masked


@pytest.mark.parametrize(
    "text",
    [
        "KeyError: 'id'",
        "commit 3f786850e387550fdab836ed7e6dc881de23001b deployed",  # a hex digest is not a secret key
        "author=jane rows=1200 bucket=s3://raw/sales/2026-12-01/part-0000.parquet",
        "[2026-12-05T06:00:00.123+0000] {taskinstance.py:441} INFO - Marking task as FAILED. dag_id=etl",
        'File "/usr/local/airflow/dags/etl.py", line 12, in load',
        "arn:aws:airflow-serverless:us-east-1:123456789012:workflow/sales-Ab3dE6gH9j",
        "password reset mail sent; tokens per minute: 40",
    ],
)
def test_ordinary_log_text_is_left_alone(text: str) -> None:
    assert mask_secrets(text) == text
