"""Services of the integrations app: one module per topic."""
