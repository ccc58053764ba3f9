"""quantdb.adapters."""
