"""MWAA Serverless observability: the code shared by the Lambda functions (deployed as a layer)."""

from typing import Final

# Powertools service name of every function's logger. Set in code, not through POWERTOOLS_SERVICE_NAME, which
# Metrics would also read and turn into a `service` dimension that the metric catalog does not have.
SERVICE: Final = "mwaa-obs"
