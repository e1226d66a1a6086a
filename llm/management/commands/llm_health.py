"""Check every deployment against its upstream now (all at once, each within LLM_ADMIN_CHECK_TIMEOUT) and print a
table; exit 1 if an enabled one fails."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from llm.models import Deployment
from llm.services import deployments_check_and_record


class Command(BaseCommand):
    help = "Test every deployment's connection and report latency, reported model and errors."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--enabled-only", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        queryset = Deployment.objects.order_by("label")
        if options["enabled_only"]:
            queryset = queryset.filter(enabled=True)
        failing = []
        deployments = list(queryset)
        results = deployments_check_and_record(deployments=deployments)  # all at once, each bounded
        for deployment, result in zip(deployments, results, strict=True):
            state = "OK" if result.ok else "FAILED"
            latency = f"{result.latency_ms:.0f} ms" if result.latency_ms is not None else "-"
            detail = result.upstream_model or "" if result.ok else result.admin_message
            flag = "" if deployment.enabled else " (disabled)"
            self.stdout.write(f"{state:7} {deployment.label}{flag:11} {deployment.kind:18} {latency:>8}  {detail}")
            if not result.ok and deployment.enabled:
                failing.append(deployment.label)
        if failing:
            raise CommandError(f"enabled deployments failing: {', '.join(failing)}")
