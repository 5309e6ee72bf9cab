from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("Integrations")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connects the anymail tracking signal receiver. Chat alerts: the outbox
        # handler of case events, and their Celery tasks (a module not named ``tasks``,
        # which autodiscovery would miss). Outbound webhooks: the outbox handler.
        from integrations import handlers, handlers_alerts, tasks_alerts, webhooks  # noqa: F401
