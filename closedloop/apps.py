from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClosedloopConfig(AppConfig):
    name = "closedloop"
    verbose_name = _("Closed loop")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Routing reacts to response events; new organizations get default rules.
        from closedloop import handlers, signals  # noqa: F401

        signals.connect()
