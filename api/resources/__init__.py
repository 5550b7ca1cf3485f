"""Integrator resources behind /v1: wards, patients, enrolments, devices, gateways, observations, alerts."""
