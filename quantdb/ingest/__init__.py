"""quantdb.ingest."""
