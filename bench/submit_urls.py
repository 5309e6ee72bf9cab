"""URLs of the submit benchmark's server: the application's URLs plus ``POST
/bench/bare/``, the baseline: a plain Django view that inserts one row with the ORM
into ``bench_row`` (created by bench/submit.py) and answers 204."""

from __future__ import annotations

from django.db import models
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


class BenchRow(models.Model):
    """One row per baseline request (unmanaged: the benchmark creates the table)."""

    payload = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    objects: models.Manager[BenchRow] = models.Manager()

    class Meta:
        app_label = "bench"
        managed = False
        db_table = "bench_row"

    def __str__(self) -> str:
        return f"bench row {self.pk}"


@csrf_exempt  # like the public survey pages: a form POST without a session
@require_POST
def bare_insert(request: HttpRequest) -> HttpResponse:
    BenchRow.objects.create(payload=request.POST.get("payload", ""))
    return HttpResponse(status=204)


urlpatterns = [
    path("bench/bare/", bare_insert, name="bench-bare"),
    path("", include("config.urls")),
]
