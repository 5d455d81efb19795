// The IAM evaluator of the strict offline world: @cloud-copilot/iam-simulate (AGPL-3.0, a test-time tool that is never
// shipped; docs/LOCAL_STACK.md), run as a sidecar of the Python process. One JSON request per line on stdin, one
// JSON answer per line on stdout, in order:
//   {"policies": [<identity policy>...], "resourcePolicy": <policy>|null, "principal": ARN, "action": "svc:Op",
//    "resource": ARN|"*", "account": "123456789012", "context": {"key": value|[values]}}
//   -> {"result": "Allowed"|"ImplicitlyDenied"|"ExplicitlyDenied"} or {"error": "<why the request is malformed>"}
// The module directory comes first on the command line (npm ci installs it in the venv, not beside this file).
'use strict'
const readline = require('readline')

const installed = process.argv[2]
const { runSimulation } = require(require.resolve('@cloud-copilot/iam-simulate', { paths: [installed] }))

async function evaluate(request) {
  const simulation = {
    identityPolicies: request.policies.map((policy, index) => ({ name: `policy${index}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: {
      action: request.action,
      principal: request.principal,
      resource: { resource: request.resource, accountId: request.account },
      contextVariables: request.context || {},
    },
  }
  if (request.resourcePolicy) simulation.resourcePolicy = request.resourcePolicy
  const answer = await runSimulation(simulation, {})
  if (answer.resultType === 'error') return { error: JSON.stringify(answer.errors) }
  return { result: answer.overallResult }
}

const lines = readline.createInterface({ input: process.stdin, terminal: false })
let queue = Promise.resolve()
lines.on('line', (line) => {
  queue = queue.then(async () => {
    let answer
    try {
      answer = await evaluate(JSON.parse(line))
    } catch (error) {
      answer = { error: String(error && error.stack ? error.stack : error) }
    }
    process.stdout.write(JSON.stringify(answer) + '\n')
  })
})
