"""The client factories: a lazy client costs nothing until its first call, then behaves as the client."""

from __future__ import annotations

from mwaa_obs.aws import LazyClient


def test_a_lazy_client_is_made_at_its_first_call_only() -> None:
    lazy = LazyClient("sqs")
    assert lazy._client is None
    assert lazy.meta.service_model.service_name == "sqs"
    made = lazy._client
    assert made is not None
    assert lazy.meta is made.meta  # the same client from then on
