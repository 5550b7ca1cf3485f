"""Oxiward alerting: the clinical rules, standard library only (no I/O, no clock)."""
