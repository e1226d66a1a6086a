"""The Slack door: one Slack app per company, all posting to ``/slack/events?workspace=<slug>`` (docs/slack.md)."""
