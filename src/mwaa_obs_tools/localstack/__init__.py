"""The local stack: moto server with template.yaml deployed into it, the Lambda handlers run in-process, and the
MWAA Serverless simulator publishing to the emulator's EventBridge.

Rooms: `stack` (LocalStack, `running`: it all put together, brought up and down), `deployment` (the template
deployed as CloudFormation would), `functions` (the handlers run in-process, their output to logs and metrics),
`scheduling` (the pump: queues, delayed notices, the table's stream and the schedules on the simulator's clock),
`clients` (the emulator's clients, log lines, the simulator's sink).

Workarounds for what moto does not do (../shared/notes/local-aws.md; docs/LOCAL_STACK.md), each applied here:
1. moto ignores the AWS::Serverless transform: the template is transformed locally with aws-sam-translator,
   then created with CloudFormation (`create_stack`); CodeUri/ContentUri point at a placeholder zip in S3
   (deployment).
2. moto's CloudFormation skips AWS::SQS::QueuePolicy (and alarms, subscriptions, secrets): the template's queue
   policies are set with SetQueueAttributes (moto stores them, never enforces them) and its alarms created with
   PutMetricAlarm, their references resolved as CloudFormation would (never evaluated: moto does not evaluate
   alarms; mwaa_obs_tools.alarm_evaluator does). The Slack webhook secret is created before the stack, as a user
   would, and its ARN passed as the SlackWebhookSecretArn parameter (deployment).
3. An enabled event source mapping makes moto try to run the function in Docker on every SendMessage (and push
   messages to the DLQ early): moto_patches stops SQS from invoking mappings, and the queues are polled here while
   their mapping is enabled, with the mapping's batch size and ReportBatchItemFailures semantics
   (functions, lambda_emulation.poll_sqs_once).
4. Lambda never runs here: each handler is imported from its CodeUri with the environment CloudFormation gave
   the function; its EMF output becomes PutMetricData calls and its log lines go to its log group (functions).
5. moto's SQS slows down with queue depth: callers drain the queue as they go (`pump`, scheduling).
6. No email leaves the machine: an SQS queue subscribed to the alert topic holds what email subscribers would
   get (`alerts()`, deployment.AlertInbox), and Slack is a catcher on loopback (mwaa_obs_tools.slack_catcher) unless
   a webhook URL is given. Notices are not delayed (AlertDelaySeconds=0): `pump` delivers events before it delivers
   notices.
7. A simulated day passes in seconds: the handlers stamp each metric with when its event happened, as in AWS,
   and the points that have no event (scheduled checks) with the simulator's clock (`telemetry.clock`), not the
   wall clock, so that graphs of the local stack show the simulated day (`mwaa-obs dashboard render`) (stack).
8. moto never fires schedule rules, and a rule with a ScheduleExpression on the default bus makes its PutEvents
   fail (NotImplementedError): such rules are deleted after deploying, and `pump` invokes the scheduled functions
   itself, on the simulator's clock. moto would run the function of the table stream's mapping in Docker on every
   write (even with the mapping disabled or deleted): the stack is deployed without that mapping, and `pump` reads
   the stream and hands the records that pass the mapping's FilterCriteria to the function (deployment,
   scheduling).
9. moto has no composite alarms: mwaa_obs_tools.moto_cloudwatch keeps them in moto's alarm model (and tags as
   CloudWatch does), applied with the other moto patches.
10. moto holds a message sent with DelaySeconds back in wall time: the notifier runs on the simulator's clock and
    its delayed notices wait on that clock (scheduling.SimulatedDelays, attached in functions).
11. moto evaluates no IAM, and keeps the template's role policies as Python reprs: the roles are written as
    CloudFormation would create them (deployment), each function acts as a session of its role, for its own calls
    and for those Lambda makes with the execution role (functions), and moto server's gate authorises every call
    of those sessions as AWS would (mwaa_obs_tools.iam).
"""

# What callers use, importable from the package as before it was one module.
from mwaa_obs_tools.localstack.clients import client
from mwaa_obs_tools.localstack.deployment import (
    DEFINITIONS_BUCKET,
    SLACK_SECRET_NAME,
    STACK_NAME,
    WORKFLOW_ROLE_ARN,
    definition_location,
)
from mwaa_obs_tools.localstack.stack import LocalStack, other_account_service, running

__all__ = [
    "DEFINITIONS_BUCKET",
    "SLACK_SECRET_NAME",
    "STACK_NAME",
    "WORKFLOW_ROLE_ARN",
    "LocalStack",
    "client",
    "definition_location",
    "other_account_service",
    "running",
]
