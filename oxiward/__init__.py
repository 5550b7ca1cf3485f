"""The `oxiward` command: one entry point for the demo, the service, the gateway and the simulator."""
