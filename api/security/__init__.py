"""Authentication, authorisation, rate limits and the audit log of the REST API (see api/auth.py)."""
