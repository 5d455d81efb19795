"""What AWS authorises for a call: the IAM action(s), the resource ARN(s) and the condition keys of each.

One rule per service, written from the Service Authorization Reference (SAR,
docs.aws.amazon.com/service-authorization/latest/reference/list_<service>.html) and each service's IAM pages; the
pages are cited where AWS's choice is surprising. iam-simulate checks every ARN built here against the resource
types the SAR gives the action, so a wrong guess here fails loudly (InvalidCheck) instead of allowing.

An operation no rule covers is refused for a restricted caller (NoRule): a new call of a function must be taught
here before it passes, never let through unchecked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlparse

from mwaa_obs_tools.iam.evaluator import Check


@dataclass(frozen=True)
class Call:
    """A request as the service reads it: its operation's parameters by their model names."""

    service: str  # botocore's name of the service (cloudwatch, dynamodbstreams, mwaa-serverless...)
    operation: str
    params: Mapping[str, Any]
    region: str
    account: str  # the caller's: names (queues, tables, parameters) resolve in it

    def arn(self, service: str, resource: str, *, region: str | None = None) -> str:
        return f"arn:aws:{service}:{self.region if region is None else region}:{self.account}:{resource}"


class NoRule(LookupError):
    """No rule says what this operation is authorised as."""


Rule = Callable[[Call], list[Check]]


def checks(call: Call) -> list[Check]:
    rule = RULES.get(call.service)
    if rule is None:
        raise NoRule(f"{call.service}:{call.operation}")
    return rule(call)


# --- DynamoDB ------------------------------------------------------------------------------------------------------
# list_amazondynamodb.html; TransactWriteItems and TransactGetItems are not IAM actions: each item is authorised as
# its own PutItem, UpdateItem, DeleteItem, ConditionCheckItem or GetItem, with dynamodb:EnclosingOperation
# (amazondynamodb/latest/developerguide/transaction-apis-iam.html). A Query or Scan with IndexName is authorised on
# the index, table/T/index/I, which a grant on the table does not cover (iam-policy-specific-table-indexes.html).

_TABLE_OPERATIONS: Final = frozenset(
    {
        "GetItem", "PutItem", "UpdateItem", "DeleteItem", "DescribeTable", "CreateTable", "DeleteTable", "UpdateTable",
        "DescribeTimeToLive", "UpdateTimeToLive", "DescribeContinuousBackups", "UpdateContinuousBackups",
    }
)  # fmt: skip
_TRANSACTION_ITEMS: Final = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
_EQUALITY: Final = re.compile(r"([#\w.]+)\s*=\s*(:\w+)")


def _dynamodb(call: Call) -> list[Check]:
    operation, params = call.operation, call.params
    if operation in {"ListTables", "DescribeLimits", "DescribeEndpoints"}:
        return [Check.of(f"dynamodb:{operation}", "*")]
    if operation in {"TransactWriteItems", "TransactGetItems"}:
        found = []
        for entry in params["TransactItems"]:
            ((kind, item),) = entry.items()
            context = {"dynamodb:EnclosingOperation": operation}
            found.append(_item_check(call, _TRANSACTION_ITEMS[kind], item["TableName"], item, context))
        return found
    if operation in {"BatchGetItem", "BatchWriteItem"}:
        return [Check.of(f"dynamodb:{operation}", _table_arn(call, table)) for table in params["RequestItems"]]
    if operation in {"Query", "Scan"}:
        table, index = params["TableName"], params.get("IndexName")
        resource = _table_arn(call, table) + (f"/index/{index}" if index else "")
        leading = _query_leading_key(call, table, index) if operation == "Query" else None
        return [Check.of(f"dynamodb:{operation}", resource, {"dynamodb:LeadingKeys": [leading]} if leading else None)]
    if operation in _TABLE_OPERATIONS:
        return [_item_check(call, operation, params["TableName"], params, {})]
    raise NoRule(f"dynamodb:{operation}")


def _table_arn(call: Call, table: str) -> str:
    return table if table.startswith("arn:") else call.arn("dynamodb", f"table/{table}")


def _item_check(call: Call, action: str, table: str, request: Mapping[str, Any], context: dict[str, Any]) -> Check:
    key = request.get("Key") or request.get("Item")
    hash_key = _hash_key(call, table, None)
    if key is not None and hash_key in key:
        context = {**context, "dynamodb:LeadingKeys": [_scalar(key[hash_key])]}
    return Check.of(f"dynamodb:{action}", _table_arn(call, table), context)


def _query_leading_key(call: Call, table: str, index: str | None) -> str | None:
    """The partition key value a Query reads (dynamodb:LeadingKeys): the equality on the table's or the index's
    partition key in KeyConditionExpression."""
    hash_key = _hash_key(call, table, index)
    names = call.params.get("ExpressionAttributeNames", {})
    values = call.params.get("ExpressionAttributeValues", {})
    for name, placeholder in _EQUALITY.findall(call.params.get("KeyConditionExpression", "")):
        if names.get(name, name) == hash_key and placeholder in values:
            return _scalar(values[placeholder])
    return None


def _hash_key(call: Call, table: str, index: str | None) -> str | None:
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415 - the emulator's state, in this process

    try:
        found = dynamodb_backends[call.account][call.region].get_table(table.rsplit("/", 1)[-1])
    except Exception:
        return None
    if index is None:
        return str(found.hash_key_attr)
    for candidate in [*found.global_indexes, *found.indexes]:
        if candidate.name == index:
            return str(next(part["AttributeName"] for part in candidate.schema if part["KeyType"] == "HASH"))
    return None


def _scalar(value: Mapping[str, Any]) -> str:
    ((_, scalar),) = value.items()
    return str(scalar)


def _dynamodb_streams(call: Call) -> list[Check]:
    """Streams are resources of their own, table/T/stream/LABEL; ListStreams takes only "*" (SAR: no resource
    type). GetRecords names the stream through its iterator (moto's iterators begin with the stream ARN)."""
    operation, params = call.operation, call.params
    if operation == "ListStreams":
        return [Check.of("dynamodb:ListStreams", "*")]
    if operation in {"DescribeStream", "GetShardIterator"}:
        return [Check.of(f"dynamodb:{operation}", params["StreamArn"])]
    if operation == "GetRecords":
        return [Check.of("dynamodb:GetRecords", params["ShardIterator"].split("|", 1)[0])]
    raise NoRule(f"dynamodb:{operation}")


# --- SQS, SNS -------------------------------------------------------------------------------------------------------
# list_amazonsqs.html: every queue operation on the queue's ARN; the *Batch APIs are authorised as their single
# action (the SAR has no *Batch actions; AWS's denial names sqs:sendmessage for a SendMessageBatch).


def _sqs(call: Call) -> list[Check]:
    operation, params = call.operation, call.params
    action = "sqs:" + operation.removesuffix("Batch")
    if operation == "ListQueues":
        return [Check.of(action, "*")]
    if "QueueUrl" in params:
        path = urlparse(params["QueueUrl"]).path.strip("/").split("/")
        account, name = (path[0], path[1]) if len(path) == 2 else (call.account, path[-1])
        return [Check.of(action, f"arn:aws:sqs:{call.region}:{account}:{name}")]
    if "QueueName" in params:
        account = params.get("QueueOwnerAWSAccountId", call.account)
        return [Check.of(action, f"arn:aws:sqs:{call.region}:{account}:{params['QueueName']}")]
    raise NoRule(action)


def _sns(call: Call) -> list[Check]:
    """list_amazonsns.html: a topic's operations on the topic ARN."""
    operation, params = call.operation, call.params
    if operation in {"ListTopics", "ListSubscriptions"}:
        return [Check.of(f"sns:{operation}", "*")]
    if operation == "CreateTopic":
        return [Check.of("sns:CreateTopic", call.arn("sns", params["Name"]))]
    topic = params.get("TopicArn") or params.get("TargetArn")
    if topic is None:
        raise NoRule(f"sns:{operation}")
    return [Check.of(f"sns:{operation}", topic)]


# --- Parameters, secrets, keys --------------------------------------------------------------------------------------


def _ssm(call: Call) -> list[Check]:
    """list_awssystemsmanager.html: parameter/NAME, the name without its leading slash."""
    operation, params = call.operation, call.params
    names = params.get("Names") or ([params["Name"]] if "Name" in params else [])
    if operation == "GetParametersByPath":
        names = [params["Path"]]
    if not names:
        if operation == "DescribeParameters":
            return [Check.of("ssm:DescribeParameters", "*")]
        raise NoRule(f"ssm:{operation}")
    return [Check.of(f"ssm:{operation}", call.arn("ssm", f"parameter/{name.lstrip('/')}")) for name in names]


def _secretsmanager(call: Call) -> list[Check]:
    """list_awssecretsmanager.html: the secret's full ARN (NAME-6RANDOM), whether the call named it or gave the
    ARN; a secret that does not exist is reported under the id as given."""
    operation, params = call.operation, call.params
    if operation in {"ListSecrets", "GetRandomPassword", "BatchGetSecretValue"}:
        return [Check.of(f"secretsmanager:{operation}", "*")]
    if operation == "CreateSecret":
        return [Check.of("secretsmanager:CreateSecret", call.arn("secretsmanager", f"secret:{params['Name']}-??????"))]
    if "SecretId" not in params:
        raise NoRule(f"secretsmanager:{operation}")
    return [Check.of(f"secretsmanager:{operation}", _secret_arn(call, params["SecretId"]))]


def _secret_arn(call: Call, secret_id: str) -> str:
    from moto.secretsmanager.models import secretsmanager_backends  # noqa: PLC0415 - the emulator's, in-process

    found = secretsmanager_backends[call.account][call.region].secrets.get(secret_id)
    if found is not None:
        return str(found.arn)
    return secret_id if secret_id.startswith("arn:") else call.arn("secretsmanager", f"secret:{secret_id}")


def _kms(call: Call) -> list[Check]:
    """list_awskeymanagementservice.html: key/KEY_ID (an alias resolves to its key)."""
    from moto.kms.models import kms_backends  # noqa: PLC0415 - the emulator's, in-process

    key_id = call.params.get("KeyId")
    if key_id is None:
        raise NoRule(f"kms:{call.operation}")
    backend = kms_backends[call.account][call.region]
    arn = str(backend.describe_key(backend.any_id_to_key_id(key_id)).arn)
    return [Check.of(f"kms:{call.operation}", arn)]


# --- STS ----------------------------------------------------------------------------------------------------------
# AssumeRole is authorised twice: the caller's policy must allow sts:AssumeRole on the role, and the role's trust
# policy must allow the caller (both, across accounts: IAM UG "Cross account resource access"). GetCallerIdentity
# needs no permission at all (its API reference: "No permissions are required to perform this operation").


def _sts(call: Call) -> list[Check]:
    if call.operation == "GetCallerIdentity":
        return []
    if call.operation == "AssumeRole":
        context = {"sts:RoleSessionName": call.params["RoleSessionName"]}
        if "ExternalId" in call.params:
            context["sts:ExternalId"] = call.params["ExternalId"]
        return [Check.of("sts:AssumeRole", call.params["RoleArn"], context)]
    raise NoRule(f"sts:{call.operation}")


# --- CloudWatch Logs -------------------------------------------------------------------------------------------------
# list_amazoncloudwatchlogs.html. A stream's operations on log-group:G:log-stream:S; the group's on the group, which
# AWS checks as log-group:G:log-stream: (its denials show that form), so a grant on log-group:G without ":*" covers
# neither (the LogGroup.arn text of the Logs API reference: use the ":*" form in policies).

_STREAM_OPERATIONS: Final = frozenset({"CreateLogStream", "PutLogEvents", "GetLogEvents"})


def _logs(call: Call) -> list[Check]:
    operation, params = call.operation, call.params
    group = params.get("logGroupName")
    if operation == "DescribeLogGroups":
        return [Check.of("logs:DescribeLogGroups", call.arn("logs", "log-group::log-stream:"))]
    if group is None:
        raise NoRule(f"logs:{operation}")
    stream = params.get("logStreamName", "") if operation in _STREAM_OPERATIONS else ""
    return [Check.of(f"logs:{operation}", call.arn("logs", f"log-group:{group}:log-stream:{stream}"))]


# --- CloudWatch -------------------------------------------------------------------------------------------------------
# list_amazoncloudwatch.html. Alarms: alarm:NAME. Dashboards are global: arn:aws:cloudwatch::ACCOUNT:dashboard/NAME,
# no region (the SAR's ARN format; PutDashboard: "All dashboards in your account are global"). Tags given to a
# Put* that creates the resource need cloudwatch:TagResource too (the PutMetricAlarm, PutCompositeAlarm and
# PutDashboard references, "Tags"). PutCompositeAlarm: the SAR names the alarm resource type, but its API reference
# says the permission must be "scoped to *" ("You can't create a composite alarms if your
# cloudwatch:PutCompositeAlarm permission has a narrower scope"): the more specific statement wins here, so it is
# checked on "*". DescribeAlarms returns composites only "with the cloudwatch:DescribeAlarms permission that is
# scoped to *" (its API reference): asking for them is checked on "*", which a narrower grant does not cover.

_ANY_RESOURCE: Final = frozenset(
    {
        "PutMetricData",
        "GetMetricData",
        "GetMetricStatistics",
        "ListMetrics",
        "ListDashboards",
        "DescribeAlarmsForMetric",
    }
)


def _cloudwatch(call: Call) -> list[Check]:
    operation, params = call.operation, call.params
    action = f"cloudwatch:{operation}"
    if operation in _ANY_RESOURCE:
        context = {"cloudwatch:namespace": params["Namespace"]} if operation == "PutMetricData" else None
        return [Check.of(action, "*", context)]
    if operation in {"PutMetricAlarm", "PutCompositeAlarm", "PutDashboard"}:
        return _put(call, action)
    if operation == "DescribeAlarms" and "CompositeAlarm" in params.get("AlarmTypes", []):
        return [Check.of(action, "*")]
    names = params.get("AlarmNames") or [params.get("AlarmName") or params.get("AlarmNamePrefix", "") + "*"]
    if operation in {"DescribeAlarms", "DeleteAlarms", "SetAlarmState", "DescribeAlarmHistory"}:
        return [_on_resource(call, action, call.arn("cloudwatch", f"alarm:{name}")) for name in names]
    dashboards = params.get("DashboardNames") or [params.get("DashboardName")]
    if operation in {"GetDashboard", "DeleteDashboards"}:
        return [_on_resource(call, action, _dashboard_arn(call, name)) for name in dashboards]
    if operation in {"TagResource", "UntagResource", "ListTagsForResource"}:
        return [_on_resource(call, action, params["ResourceARN"], _tag_context(params))]
    raise NoRule(action)


def _on_resource(call: Call, action: str, arn: str, context: dict[str, Any] | None = None) -> Check:
    """A check on an alarm or a dashboard, with its tags as aws:ResourceTag (the alarm and dashboard resource types
    support the key, Service Authorization Reference): the tags CloudWatch holds for it now."""
    from moto.cloudwatch.models import cloudwatch_backends  # noqa: PLC0415 - the emulator's state, in this process

    tags = cloudwatch_backends[call.account][call.region].tagger.get_tag_dict_for_resource(arn)
    return Check.of(action, arn, {**(context or {}), **{f"aws:ResourceTag/{k}": v for k, v in tags.items()}})


def _put(call: Call, action: str) -> list[Check]:
    """A Put* of CloudWatch, and TagResource on the resource when it brings tags (AWS ignores them, and so needs no
    TagResource, when the resource exists already: the caller cannot tell, and the grant is needed at creation)."""
    if call.operation == "PutDashboard":
        resource = tagged = _dashboard_arn(call, call.params["DashboardName"])
    else:
        tagged = call.arn("cloudwatch", f"alarm:{call.params['AlarmName']}")
        resource = "*" if call.operation == "PutCompositeAlarm" else tagged
    context = _tag_context(call.params)
    found = [_on_resource(call, action, resource, context) if resource != "*" else Check.of(action, "*", context)]
    if call.params.get("Tags"):
        found.append(_on_resource(call, "cloudwatch:TagResource", tagged, context))
    return found


def _dashboard_arn(call: Call, name: str) -> str:
    return f"arn:aws:cloudwatch::{call.account}:dashboard/{name}"


def _tag_context(params: Mapping[str, Any]) -> dict[str, Any]:
    tags = params.get("Tags") or []
    context: dict[str, Any] = {f"aws:RequestTag/{tag['Key']}": tag["Value"] for tag in tags}
    keys = [tag["Key"] for tag in tags] or params.get("TagKeys") or []
    if keys:
        context["aws:TagKeys"] = keys
    return context


# --- EventBridge, Lambda, CloudFormation --------------------------------------------------------------------------


def _events(call: Call) -> list[Check]:
    """list_amazoneventbridge.html: PutEvents on each bus named (default: the account's default bus); rules as
    rule/NAME on the default bus, rule/BUS/NAME on another."""
    operation, params = call.operation, call.params
    if operation == "PutEvents":
        buses = {entry.get("EventBusName") or "default" for entry in params["Entries"]}
        return [Check.of("events:PutEvents", _bus_arn(call, bus)) for bus in sorted(buses)]
    if operation in {"ListRules", "ListEventBuses"}:
        return [Check.of(f"events:{operation}", "*")]
    if operation in {"DescribeRule", "ListTargetsByRule", "RemoveTargets", "DeleteRule", "PutRule", "PutTargets"}:
        bus, rule = params.get("EventBusName"), params.get("Name") or params["Rule"]
        path = f"rule/{rule}" if bus in {None, "default"} else f"rule/{bus.rsplit('/', 1)[-1]}/{rule}"
        return [Check.of(f"events:{operation}", call.arn("events", path))]
    raise NoRule(f"events:{operation}")


def _bus_arn(call: Call, bus: str) -> str:
    return bus if bus.startswith("arn:") else call.arn("events", f"event-bus/{bus}")


def _lambda(call: Call) -> list[Check]:
    """list_awslambda.html: a function's operations on function:NAME; the mappings' listing on "*"."""
    operation, params = call.operation, call.params
    if operation in {"ListFunctions", "ListEventSourceMappings"}:
        return [Check.of(f"lambda:{operation}", "*")]
    if "FunctionName" in params:
        name = params["FunctionName"]
        arn = name if name.startswith("arn:") else call.arn("lambda", f"function:{name}")
        return [Check.of(f"lambda:{operation.removesuffix('20150331')}", arn)]
    if operation in {"GetEventSourceMapping", "UpdateEventSourceMapping"}:
        return [Check.of(f"lambda:{operation}", call.arn("lambda", f"event-source-mapping:{params['UUID']}"))]
    raise NoRule(f"lambda:{operation}")


def _cloudformation(call: Call) -> list[Check]:
    """list_awscloudformation.html: stack/NAME/ID (a name alone: stack/NAME/*, as AWS's denials show)."""
    operation, params = call.operation, call.params
    name = params.get("StackName")
    if name is None:
        return [Check.of(f"cloudformation:{operation}", "*")]
    arn = name if name.startswith("arn:") else call.arn("cloudformation", f"stack/{name}/*")
    return [Check.of(f"cloudformation:{operation}", arn)]


# --- MWAA Serverless --------------------------------------------------------------------------------------------------
# list_awsmwaaserverless.html: CreateWorkflow and ListWorkflows on "*", every other operation on the workflow.


def _mwaa_serverless(call: Call) -> list[Check]:
    operation, params = call.operation, call.params
    action = f"airflow-serverless:{operation}"
    if operation in {"CreateWorkflow", "ListWorkflows"}:
        return [Check.of(action, "*")]
    arn = params.get("WorkflowArn") or params.get("ResourceArn")
    if arn is None:
        raise NoRule(action)
    return [
        Check.of(action, arn, _tag_context({"Tags": _tag_list(params.get("Tags")), "TagKeys": params.get("TagKeys")}))
    ]


def _tag_list(tags: Any) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in (tags or {}).items()]


RULES: Final[dict[str, Rule]] = {
    "dynamodb": _dynamodb,
    "dynamodbstreams": _dynamodb_streams,
    "sqs": _sqs,
    "sns": _sns,
    "ssm": _ssm,
    "secretsmanager": _secretsmanager,
    "kms": _kms,
    "sts": _sts,
    "logs": _logs,
    "cloudwatch": _cloudwatch,
    "events": _events,
    "lambda": _lambda,
    "cloudformation": _cloudformation,
    "mwaa-serverless": _mwaa_serverless,
}
