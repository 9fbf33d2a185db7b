"""Schema revisions, oldest first: ``0001_initial`` is the schema as first released."""
