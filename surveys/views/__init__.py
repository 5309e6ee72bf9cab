"""HTML pages: journeys and touchpoints (``journeys``), surveys and the builder
(``builder``), the preview and version history (``preview``)."""
