"""Provider webhooks: email tracking through anymail, Twilio status callbacks and
inbound SMS.

* Email: anymail's tracking webhook view (Postmark) authenticates with anymail's basic
  auth (``ANYMAIL_WEBHOOK_SECRET``; without one the endpoint answers 403), parses the
  ESP's payload and sends the ``anymail.signals.tracking`` signal, handled here. Its
  inbound webhook view (customers' email replies) sends ``anymail.signals.inbound``,
  handled by ``closedloop.inbound_email``; the same basic auth applies.
* Twilio: every request must carry a valid ``X-Twilio-Signature`` computed with the auth
  token over the public URL (``SITE_URL`` + path: TLS ends at the proxy, so the URL
  Django sees is not the one Twilio signed). Unsigned or wrongly signed: 403, nothing
  changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType, tracking
from anymail.webhooks.postmark import PostmarkInboundWebhookView, PostmarkTrackingWebhookView
from django.conf import settings
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.inbound import sms_inbound_process
from surveys.services.provider_events import DeliveryEvent, invitation_delivery_event

logger = logging.getLogger(__name__)


# --- Email (anymail) -------------------------------------------------------------------


def _anymail_event(event: AnymailTrackingEvent) -> str | None:
    if event.event_type == EventType.DELIVERED:
        return DeliveryEvent.DELIVERED
    if event.event_type == EventType.OPENED:
        return DeliveryEvent.OPENED
    if event.event_type == EventType.COMPLAINED:
        return DeliveryEvent.COMPLAINED
    if event.event_type == EventType.BOUNCED:
        esp_event = event.esp_event if isinstance(event.esp_event, dict) else {}
        # Soft bounces are retried by the ESP; only a hard bounce ends the invitation.
        return None if esp_event.get("Type") == "SoftBounce" else DeliveryEvent.BOUNCED
    if event.event_type in (EventType.REJECTED, EventType.FAILED):
        return DeliveryEvent.FAILED
    return None


@receiver(tracking, dispatch_uid="integrations.email_tracking")
def email_tracking_received(
    sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any
) -> None:
    kind = _anymail_event(event)
    if kind is None or not event.message_id:
        return
    invitation_delivery_event(
        provider=esp_name.lower(),
        provider_message_id=str(event.message_id),
        event=kind,
        provider_data={
            "event_type": event.event_type,
            "reject_reason": event.reject_reason or "",
            "description": (event.description or "")[:500],
        },
        metadata=dict(event.metadata or {}),
    )


def _anymail_secured(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.ANYMAIL.get("WEBHOOK_SECRET"):
            return HttpResponseForbidden("webhook secret not configured")
        return view(request, *args, **kwargs)

    return wrapped


postmark_tracking = csrf_exempt(_anymail_secured(PostmarkTrackingWebhookView.as_view()))
# Inbound email (customers' replies to case messages): anymail sends
# ``anymail.signals.inbound``, which ``closedloop.inbound_email`` handles.
postmark_inbound = csrf_exempt(_anymail_secured(PostmarkInboundWebhookView.as_view()))


# --- Twilio ----------------------------------------------------------------------------


def twilio_signature_valid(request: HttpRequest) -> bool:
    from twilio.request_validator import RequestValidator

    token = settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    url = f"{settings.SITE_URL}{request.get_full_path()}"
    params = {key: request.POST.get(key, "") for key in request.POST}
    return bool(RequestValidator(token).validate(url, params, signature))


def _twilio(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    @csrf_exempt
    @require_POST
    @wraps(view)
    def wrapped(request: HttpRequest) -> HttpResponse:
        if not twilio_signature_valid(request):
            return HttpResponseForbidden("invalid signature")
        return view(request)

    return wrapped


TWILIO_STATUS = {
    "delivered": DeliveryEvent.DELIVERED,
    "undelivered": DeliveryEvent.FAILED,
    "failed": DeliveryEvent.FAILED,
}


@_twilio
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Twilio's status callback for a sent SMS (queued, sent, delivered, failed...)."""
    kind = TWILIO_STATUS.get(request.POST.get("MessageStatus", ""))
    sid = request.POST.get("MessageSid", "")
    if kind is not None and sid:
        invitation_delivery_event(
            provider="twilio",
            provider_message_id=sid,
            event=kind,
            provider_data={
                "status": request.POST.get("MessageStatus", ""),
                "error_code": request.POST.get("ErrorCode", ""),
            },
        )
    return HttpResponse(status=204)


def _twiml(text: str | None) -> HttpResponse:
    from twilio.twiml.messaging_response import MessagingResponse

    response = MessagingResponse()
    if text:
        response.message(text)
    return HttpResponse(str(response), content_type="application/xml")


@_twilio
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    """An SMS from a customer: the reply (if any) is returned as TwiML."""
    reply = sms_inbound_process(
        phone=request.POST.get("From", ""),
        body=request.POST.get("Body", ""),
        message_sid=request.POST.get("MessageSid", ""),
    )
    return _twiml(reply)
