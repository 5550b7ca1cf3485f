"""Oxiward home gateway: reads BLE pulse oximeters and publishes readings over MQTT."""
