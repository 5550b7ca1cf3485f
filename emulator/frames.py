"""How an emulated PLX oximeter turns a scenario sample into the bytes it sends (pure)."""

from __future__ import annotations

from datetime import datetime

from emulator.plx_encode import (
    DeviceSensorStatus,
    MeasurementStatus,
    PlxFeature,
    encode_plx_continuous,
    encode_plx_features,
    encode_plx_spot_check,
)
from emulator.scenarios import Sample

__all__ = ["FEATURES", "continuous_frame", "spot_check_frame"]

# What the emulated device claims in 0x2A60 (§1.8): status fields, PAI and spot-check timestamps,
# and exactly the status bits the scenarios can produce.
FEATURES = encode_plx_features(
    PlxFeature.PAI | PlxFeature.SPOT_CHECK_TIMESTAMP,
    measurement_status_support=MeasurementStatus.MEASUREMENT_UNAVAILABLE,
    device_sensor_status_support=(
        DeviceSensorStatus.SENSOR_UNCONNECTED_TO_USER | DeviceSensorStatus.SENSOR_DISCONNECTED
    ),
)


def continuous_frame(sample: Sample) -> bytes:
    """0x2A5F: normal SpO2/PR, both status fields always, PAI only when there is one."""
    return encode_plx_continuous(
        sample.spo2,
        sample.pulse_rate,
        measurement_status=sample.measurement_status,
        device_sensor_status=sample.device_sensor_status,
        pai=sample.pai,
    )


def spot_check_frame(sample: Sample, timestamp: datetime) -> bytes:
    """0x2A5E: as the continuous frame plus the device's timestamp."""
    return encode_plx_spot_check(
        sample.spo2,
        sample.pulse_rate,
        timestamp=timestamp,
        measurement_status=sample.measurement_status,
        device_sensor_status=sample.device_sensor_status,
        pai=sample.pai,
    )
