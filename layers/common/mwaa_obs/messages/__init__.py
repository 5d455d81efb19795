"""Messages: one alert, rendered for each channel.

- `model`: what a message says, whatever the channel (`Alert`, `FailedTask`, `NamedRun`) and the phrases every
  channel shares;
- `untrusted`: text from a workflow made inert in plain text and in Slack mrkdwn;
- `slack`: the incoming-webhook payload (Block Kit);
- `email`: the SNS subject and the plain-text body (email, SQS and Lambda subscribers);
- `chatbot`: the Amazon Q Developer (AWS Chatbot) custom notification for HTTPS subscribers;
- `sns`: the topic's publish, one message per protocol, and its filterable attributes.
"""
