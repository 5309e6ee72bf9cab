from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ResponsesConfig(AppConfig):
    name = "responses"
    verbose_name = _("Responses")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the inbound SMS handler (answers by SMS reply).
        from responses import signals, sms  # noqa: F401

        signals.connect()
