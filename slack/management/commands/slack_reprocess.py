"""Queue failed Slack events again (after Slack or the network came back). Answers already given are re-posted
from the database; the model is never called twice for one event."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from slack.selectors import slack_event_failed_list, slack_workspace_get_by_slug
from slack.services import slack_event_requeue


class Command(BaseCommand):
    help = "Re-queue Slack events that failed (status failed), optionally for one workspace."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", help="workspace slug (default: all)")
        parser.add_argument("--dry-run", action="store_true", help="only count them")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = None
        if options["workspace"]:
            workspace = slack_workspace_get_by_slug(slug=options["workspace"])
            if workspace is None:
                raise CommandError(f"no Slack workspace {options['workspace']!r}")
        pks = slack_event_failed_list(workspace=workspace)
        if options["dry_run"]:
            self.stdout.write(f"{len(pks)} failed event(s)")
            return
        done = slack_event_requeue(event_pks=pks)
        self.stdout.write(self.style.SUCCESS(f"{done} event(s) queued again"))
