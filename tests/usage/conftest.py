from tests.model_fixtures import gpt4o, o3mini, upstream  # noqa: F401 - the chat fixtures, shared
from tests.slack.conftest import fake_slack, workspace_a  # noqa: F401 - the Slack fixtures, shared
