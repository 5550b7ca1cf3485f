#!/bin/sh
# Container entry for the broker: build the password file from environment secrets, then run
# Mosquitto. Nothing secret is stored in the image or the repository.
#
#   OXIWARD_MQTT_SERVICE_PASSWORD  password of user `oxiward-service` (the API's ingest and alert topic)
#   OXIWARD_MQTT_ALERTS_PASSWORD   optional: password of user `oxiward-alerts`, which reads the ward
#                                  alert topics oxiward/v1/alerts/<ward> (local integrations)
#   OXIWARD_SIM_MQTT_PASSWORD      password of the simulator's gateways sim-gw-01 .. sim-gw-NN
#   OXIWARD_SIM_PATIENTS           NN, how many simulator gateways get an account (default 4)
#   MOSQUITTO_EXTRA_PASSWD         optional: a mosquitto_passwd file of real gateways
#                                  (hashed lines `gateway-id:$7$...`), appended as is
set -eu
: "${OXIWARD_MQTT_SERVICE_PASSWORD:?set OXIWARD_MQTT_SERVICE_PASSWORD}"
conf="${MOSQUITTO_CONF:-/mosquitto/config/mosquitto.conf}"
passwd="${MOSQUITTO_PASSWD:-/mosquitto/data/passwd}"

umask 077
mkdir -p "$(dirname "$passwd")"
: > "$passwd.new"
mosquitto_passwd -b "$passwd.new" oxiward-service "$OXIWARD_MQTT_SERVICE_PASSWORD"
if [ -n "${OXIWARD_MQTT_ALERTS_PASSWORD:-}" ]; then
  mosquitto_passwd -b "$passwd.new" oxiward-alerts "$OXIWARD_MQTT_ALERTS_PASSWORD"
fi
if [ -n "${OXIWARD_SIM_MQTT_PASSWORD:-}" ]; then
  i=1
  while [ "$i" -le "${OXIWARD_SIM_PATIENTS:-4}" ]; do
    mosquitto_passwd -b "$passwd.new" "$(printf 'sim-gw-%02d' "$i")" "$OXIWARD_SIM_MQTT_PASSWORD"
    i=$((i + 1))
  done
fi
if [ -n "${MOSQUITTO_EXTRA_PASSWD:-}" ] && [ -f "$MOSQUITTO_EXTRA_PASSWD" ]; then
  cat "$MOSQUITTO_EXTRA_PASSWD" >> "$passwd.new"
fi
mv "$passwd.new" "$passwd"
# The broker drops root for the `mosquitto` user and must still read the file.
chown mosquitto:mosquitto "$passwd" 2>/dev/null || true
exec mosquitto -c "$conf"
