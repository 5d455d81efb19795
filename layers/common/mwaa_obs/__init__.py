"""MWAA Serverless observability: the code shared by the Lambda functions (deployed as a layer)."""
