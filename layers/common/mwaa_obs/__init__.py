"""MWAA Serverless observability: the code shared by the Lambda functions (deployed as a layer)."""

from typing import Final

PRODUCT: Final = "mwaa-obs"
# Powertools service name of every function's logger. Set in code, not through POWERTOOLS_SERVICE_NAME, which
# Metrics would also read and turn into a `service` dimension that the metric catalog does not have.
SERVICE: Final = PRODUCT
# The stack name samconfig.toml deploys and the ResourcePrefix template.yaml defaults to.
DEFAULT_STACK_NAME: Final = PRODUCT
# The text the workflow dashboard's variable replaces (dashboards/workflow.json), in its graphs and widget parameters.
WORKFLOW_PATTERN: Final = "__workflow__"
