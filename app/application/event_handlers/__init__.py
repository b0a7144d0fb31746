"""Event handlers: projections, notifications, integrations and reactions."""
