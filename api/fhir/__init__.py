"""FHIR R4 read API: UK Core vital-signs Observations, Patient, Device, searchset Bundles."""
