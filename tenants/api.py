"""API base class and the organization endpoint."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from tenants.models import Organization


class TenantAPIView(generics.GenericAPIView[Any]):
    """Base of every API view.

    The request already runs in the API key's organization (tenant middleware), so the
    model's default manager returns only that organization's rows and another
    organization's object is a 404, exactly like a missing one. Subclasses declare
    ``model``, ``required_scopes`` and add filters in ``filter_queryset``.
    """

    model: ClassVar[type[Model] | None] = None
    required_scopes: ClassVar[dict[str, str]] = {}

    def get_queryset(self) -> QuerySet[Any]:
        if self.model is None:
            raise NotImplementedError(f"{type(self).__name__} must set `model`")
        return self.model._default_manager.all()


class OrganizationSerializer(serializers.ModelSerializer[Organization]):
    class Meta:
        model = Organization
        fields = ["slug", "name", "timezone", "default_language", "brand_colour", "created_at"]
        read_only_fields = fields


@extend_schema(
    tags=["organization"],
    summary="The API key's organization",
    examples=[
        OpenApiExample(
            "Acme",
            value={
                "slug": "acme",
                "name": "Acme GmbH",
                "timezone": "Europe/Berlin",
                "default_language": "de",
                "brand_colour": "#1f5f8b",
                "created_at": "2026-01-05T09:30:00+00:00",
            },
            response_only=True,
        )
    ],
)
class OrganizationView(TenantAPIView):
    serializer_class = OrganizationSerializer
    required_scopes: ClassVar[dict[str, str]] = {"GET": "organization:read"}

    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(request.organization).data)  # type: ignore[attr-defined]
