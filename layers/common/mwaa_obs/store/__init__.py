"""Data access: the single-table schema (`schema`), the request builder (`update`), and one small repository per
concern, each built with its botocore DynamoDB client and table name: `transitions` (the ingest path's writes),
`runs` (reads of runs and attempts), `workflows` (workflow items), `alerts` (the notifier's decisions)."""
