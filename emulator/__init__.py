"""Emulated BLE pulse oximeters on bumble, and a bleak backend that reaches them."""
