"""Pure protocol core: bytes from a BLE characteristic in, typed values out. No I/O."""

from __future__ import annotations

from gateway.protocols.berrymed_stream import BerryMedStream
from gateway.protocols.common import Parsed, ReadingFields, StreamStats
from gateway.protocols.decode import PROTOCOLS, decode
from gateway.protocols.errors import FrameError, ProtocolError, UnknownProtocolError
from gateway.protocols.plx import (
    CONTINUOUS,
    CONTINUOUS_UUID,
    FEATURES,
    FEATURES_UUID,
    RACP_UUID,
    SERVICE_UUID,
    SPOT_CHECK,
    SPOT_CHECK_UUID,
    PlxContinuous,
    PlxFeatures,
    PlxSpotCheck,
    decode_continuous,
    decode_features,
    decode_spot_check,
)
from gateway.protocols.plx_fields import (
    DATE_TIME,
    DEVICE_SENSOR_STATUS_BITS,
    MEASUREMENT_STATUS_BITS,
    SUPPORTED_FEATURES_BITS,
    BleDateTime,
    bit_names,
    decode_date_time,
    decode_date_time_fields,
)
from gateway.protocols.registry import (
    PROFILES,
    ProtocolProfile,
    available_profiles,
    protocol_of,
    reading_fields,
    select_by_advertisement,
    select_by_services,
)
from gateway.protocols.sfloat import SfloatParts, SfloatSpecial, decode_sfloat, decode_sfloat_parts
from gateway.protocols.wellue import Pc60Stream
from gateway.protocols.wellue_o2ring import O2ResponseStream

__all__ = [
    "CONTINUOUS",
    "CONTINUOUS_UUID",
    "DATE_TIME",
    "DEVICE_SENSOR_STATUS_BITS",
    "FEATURES",
    "FEATURES_UUID",
    "MEASUREMENT_STATUS_BITS",
    "PROFILES",
    "PROTOCOLS",
    "RACP_UUID",
    "SERVICE_UUID",
    "SPOT_CHECK",
    "SPOT_CHECK_UUID",
    "SUPPORTED_FEATURES_BITS",
    "BerryMedStream",
    "BleDateTime",
    "FrameError",
    "O2ResponseStream",
    "Parsed",
    "Pc60Stream",
    "PlxContinuous",
    "PlxFeatures",
    "PlxSpotCheck",
    "ProtocolError",
    "ProtocolProfile",
    "ReadingFields",
    "SfloatParts",
    "SfloatSpecial",
    "StreamStats",
    "UnknownProtocolError",
    "available_profiles",
    "bit_names",
    "decode",
    "decode_continuous",
    "decode_date_time",
    "decode_date_time_fields",
    "decode_features",
    "decode_sfloat",
    "decode_sfloat_parts",
    "decode_spot_check",
    "protocol_of",
    "reading_fields",
    "select_by_advertisement",
    "select_by_services",
]
