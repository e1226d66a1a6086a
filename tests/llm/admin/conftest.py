"""Model admin fixtures: Django rows against the real test upstream (tests/model_fixtures.py), which replace the
client layer's plain-spec fixtures of tests/llm/conftest.py here."""

from tests.model_fixtures import gpt4o, o3mini, upstream  # noqa: F401 - fixtures, shared
