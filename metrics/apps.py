from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = _("Metrics")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Rollups and themes follow every response event of the outbox; new
        # organizations get the default theme taxonomy.
        from metrics import handlers, signals  # noqa: F401

        signals.connect()
        # Task modules beside metrics.tasks (the only module autodiscovery finds): the
        # exports, the digest and the rollup rebuild. A time zone change rebuilds the
        # rollup (signals_timezone).
        from metrics import signals_timezone, tasks_digest, tasks_exports  # noqa: F401
