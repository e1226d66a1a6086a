"""The model layer: deployments, model versions and which company may use them, and the client that streams from
them (``llm.client``). Knows nothing of conversations, the web page or Slack (docs/architecture.md)."""
