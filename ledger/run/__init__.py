"""The composition root: builds the service from its settings, serves it, supervises
serving processes."""
