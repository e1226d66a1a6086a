"""Attachment fixtures: the shared model fixtures (tests/model_fixtures.py)."""

from tests.model_fixtures import gpt4o, o3mini, upstream  # noqa: F401 - fixtures, shared
