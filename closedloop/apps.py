from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClosedloopConfig(AppConfig):
    name = "closedloop"
    verbose_name = _("Closed loop")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Routing reacts to response events; new organizations get default rules.
        # Customers' replies: email through anymail's inbound signal, SMS through the
        # inbound SMS handlers (``closedloop.sms`` registers before the survey answers).
        from closedloop import handlers, inbound_email, signals, sms  # noqa: F401

        signals.connect()
