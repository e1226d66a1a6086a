"""Services queue their own app's tasks by name (docs/architecture.md), so every process that runs Django, not
only a Celery worker, must have those tasks registered: a web or daphne process that looked a task up before
anything imported its module would lose the job ("NotRegistered")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from audit.export import EXPORT_TASK
from audit.services import CHAIN_ADVANCE_TASK
from chat.services import TITLE_TASK
from slack.services import PROCESS_TASK

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, django
django.setup()
from celery import current_app
print(json.dumps(sorted(name for name in current_app.tasks if not name.startswith("celery."))))
"""


def test_tasks_queued_by_name_are_registered_in_a_plain_django_process() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    registered = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert {PROCESS_TASK, CHAIN_ADVANCE_TASK, EXPORT_TASK, TITLE_TASK} <= registered
    # Every periodic job names a registered task too.
    from django.conf import settings

    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} <= registered
