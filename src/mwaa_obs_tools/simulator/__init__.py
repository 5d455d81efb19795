"""An offline stand-in for Amazon MWAA Serverless: its API, its scheduler and the events it publishes."""
