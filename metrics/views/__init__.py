"""HTML views of the dashboard; one module per page family (see ``metrics/urls.py``)."""
