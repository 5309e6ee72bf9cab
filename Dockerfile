# syntax=docker/dockerfile:1
# Production image: gunicorn serving config.wsgi, static files collected at build time
# and served by whitenoise. The same image runs the Celery worker and beat
# (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/app/var

RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin app

WORKDIR /app

# Dependencies first, so a code change does not reinstall them. No dev extras.
COPY pyproject.toml README.md ./
RUN pip install --upgrade pip \
 && pip install . \
 && rm -rf build ./*.egg-info

# The code stays owned by root (read-only for the app); only var/ is writable.
COPY . .
RUN mkdir -p /app/var/beat /app/var/outbox /app/var/media \
 && chown -R app:app /app/var

USER app

# A throwaway key: collectstatic needs settings, not secrets. The runtime key comes from
# the SECRET_KEY environment variable.
RUN SECRET_KEY=collectstatic-only-not-a-secret python manage.py collectstatic --noinput \
 && rm -rf /app/var/broker /app/var/cache

EXPOSE 8000

# Sends the first ALLOWED_HOSTS entry as Host, so the check passes host validation, and
# X-Forwarded-Proto: https, as the TLS-terminating proxy would.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request as r; h = os.environ.get('ALLOWED_HOSTS', '').split(',')[0].strip().lstrip('.'); h = 'localhost' if h in ('', '*') else h; r.urlopen(r.Request('http://127.0.0.1:8000/healthz', headers={'Host': h, 'X-Forwarded-Proto': 'https'}), timeout=4)"]

CMD ["gunicorn", "config.wsgi:application", "--workers", "2", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--logger-class", "config.log_redaction.GunicornLogger"]
