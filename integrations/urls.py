"""Provider webhooks: public URLs, each authenticated by the provider's own mechanism."""

from django.urls import path

from integrations import urls_alerts, urls_webhooks, webhooks

app_name = "integrations"

urlpatterns = [
    path(
        "integrations/anymail/postmark/tracking/",
        webhooks.postmark_tracking,
        name="anymail-postmark-tracking",
    ),
    path(
        "integrations/anymail/postmark/inbound/",
        webhooks.postmark_inbound,
        name="anymail-postmark-inbound",
    ),
    path("integrations/twilio/status/", webhooks.twilio_status, name="twilio-status"),
    path("integrations/twilio/inbound/", webhooks.twilio_inbound, name="twilio-inbound"),
    # Slack / Microsoft Teams alert settings (organization pages).
    *urls_alerts.urlpatterns,
    # Outbound webhooks (organization settings).
    *urls_webhooks.urlpatterns,
]
