"""The emulator refuses CloudWatch's alarm and dashboard calls past AWS's default rates, as CloudWatch refuses them
(mwaa_obs_tools.throttle): per account, region and operation, HTTP 400 `Throttling` "Rate exceeded"."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from mwaa_obs.pacing import Pacer
from mwaa_obs_tools import throttle
from mwaa_obs_tools.throttle import THROTTLE


class FrozenClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    """The throttle on a clock that moves only when told (wall time would refill the buckets as the test runs)."""
    frozen = FrozenClock()
    real, THROTTLE.clock = THROTTLE.clock, frozen
    THROTTLE.reset()
    yield frozen
    THROTTLE.clock = real
    THROTTLE.reset()


def cloudwatch(endpoint: str, region: str = "eu-west-3", retries: int = 1) -> Any:
    """A client that does not retry (botocore retries Throttling by itself)."""
    config = Config(retries={"mode": "standard", "total_max_attempts": retries})
    return botocore.session.get_session().create_client(
        "cloudwatch", endpoint_url=endpoint, region_name=region, config=config
    )


def put_alarm(client: Any, name: str) -> None:
    client.put_metric_alarm(
        AlarmName=name, Namespace="Test", MetricName="M", Statistic="Sum", Period=60, EvaluationPeriods=1,
        Threshold=0.0, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip


def test_a_fourth_put_metric_alarm_in_a_second_is_refused_as_cloudwatch_refuses_it(
    endpoint: str, clock: FrozenClock
) -> None:
    client = cloudwatch(endpoint)
    for number in range(3):
        put_alarm(client, f"throttled-{number}")
    with pytest.raises(ClientError) as refused:
        put_alarm(client, "throttled-3")
    error = refused.value.response
    assert error["Error"]["Code"] == "Throttling"
    assert error["Error"]["Message"] == "Rate exceeded"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert THROTTLE.refused == {"PutMetricAlarm": 1}
    # A third of a second later, one more call may go (3 a second)
    clock.sleep(1 / 3)
    put_alarm(client, "throttled-3")
    client.delete_alarms(AlarmNames=[f"throttled-{number}" for number in range(4)])


def test_each_operation_account_and_region_has_its_own_rate(endpoint: str, clock: FrozenClock) -> None:
    here, elsewhere = cloudwatch(endpoint), cloudwatch(endpoint, region="ap-south-2")
    other_account = cloudwatch(endpoint)
    other_account.meta.events.register(
        "before-sign", lambda request, **_: request.headers.__setitem__("x-moto-account-id", "210987654321")
    )
    for client in (here, elsewhere, other_account):
        for number in range(3):
            put_alarm(client, f"own-rate-{number}")
    for _ in range(9):  # DescribeAlarms: 9 a second, not spent by the puts
        here.describe_alarms(AlarmNamePrefix="own-rate-")
    with pytest.raises(ClientError, match="Throttling"):
        here.describe_alarms(AlarmNamePrefix="own-rate-")
    assert THROTTLE.refused == {"DescribeAlarms": 1}


def test_calls_without_a_quota_here_and_cloudformations_own_pass(endpoint: str, clock: FrozenClock) -> None:
    client = cloudwatch(endpoint)
    for _ in range(30):
        client.list_metrics(Namespace="Test")  # 25 a second in AWS, not throttled here: no function lists metrics
    deployment = throttle.exempt(cloudwatch(endpoint))
    for number in range(10):
        put_alarm(deployment, f"deployed-{number}")
    assert THROTTLE.refused == {}
    deployment.delete_alarms(AlarmNames=[f"deployed-{number}" for number in range(10)])


def test_the_query_protocol_gets_cloudwatchs_xml_error(endpoint: str, clock: FrozenClock) -> None:
    # The AWS CLI v1 and older SDKs speak query to CloudWatch
    authorization = "AWS4-HMAC-SHA256 Credential=testing/20261201/eu-west-3/monitoring/aws4_request, Signature=x"
    answers = []
    for _ in range(10):
        request = urllib.request.Request(
            endpoint,
            data=b"Action=ListDashboards&Version=2010-08-01",
            headers={"Authorization": authorization, "Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(request) as answer:
                answers.append((answer.status, answer.read().decode()))
        except urllib.error.HTTPError as error:
            answers.append((error.code, error.read().decode()))
    assert [status for status, _ in answers] == [200] * 10
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    body = refused.value.read().decode()
    assert refused.value.code == 400
    assert "<Code>Throttling</Code>" in body
    assert "<Message>Rate exceeded</Message>" in body


def test_a_paced_client_is_never_refused(endpoint: str, clock: FrozenClock) -> None:
    # Given a client paced at CloudWatch's rates on the same clock as the throttle
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    client = pacer.attach(cloudwatch(endpoint))
    # When it writes 10 alarms and reads them 20 times
    for number in range(10):
        put_alarm(client, f"paced-{number}")
    for _ in range(20):
        client.describe_alarms(AlarmNamePrefix="paced-")
    # Then nothing was refused, and it waited what the rates ask: 7 puts past the first 3 at 3 a second, 11 reads
    # past the first 9 at 9 a second
    assert THROTTLE.refused == {}
    assert pacer.waited == pytest.approx(7 / 3 + 11 / 9)
    client.delete_alarms(AlarmNames=[f"paced-{number}" for number in range(10)])
