"""Records: the system of record's ways in and out (migrate, verify, rollback, export, store, quarantine, prices)."""
