"""Settings of the web server that bench/submit.py starts: the application's settings
(from the environment, as in production) with the benchmark's URLconf, which adds the
bare baseline endpoint. Used by the benchmark only."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.submit_urls"
# The measured requests render no page; without a collected manifest, an error page
# (a 400 re-shown form) would turn into a 500 under the manifest storage.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
