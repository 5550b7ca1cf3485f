"""Oxiward service: MQTT ingest, Redis streams, evaluation worker and REST API."""
