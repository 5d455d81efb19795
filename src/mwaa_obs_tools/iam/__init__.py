"""IAM enforced offline: every AWS call a function makes is authorised against its role as AWS would authorise it.

Rooms: `gate` (in front of moto server and the MWAA Serverless simulator: the restricted principals and the
authorisation of their calls), `actions` (what AWS authorises a call as: actions, resource ARNs, condition keys),
`wire` (requests read off the wire, denials written as each service writes them), `evaluator` (the policy
evaluator, @cloud-copilot/iam-simulate in a Node sidecar: a test-time tool, never shipped), `roles` (the
template's roles as deployed, and the functions acting as them). docs/LOCAL_STACK.md says what it covers.
"""
