"""The figures of SPEC "Performance", as scripts (``make bench`` runs them all)."""
