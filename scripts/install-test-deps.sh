#!/usr/bin/env bash
# Installs every tool the full test suite drives against the real thing:
#   swtpm (TPM 2.0 simulator), SoftHSM2 (PKCS#11 token), nmap, testssl.sh and
#   hydra (what a test lab runs against the device), Chromium (web UI tests),
#   Mosquitto (the MQTT link's broker), RAUC with dbus and squashfs-tools (A/B adapter).
# Debian packages only; idempotent; needs root (CI and dev machines run as root).
set -euo pipefail

pkgs=(swtpm swtpm-tools softhsm2 nmap testssl.sh hydra chromium chromium-driver ca-certificates
	mosquitto mosquitto-clients rauc rauc-service dbus squashfs-tools)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-test-deps: all present"
	exit 0
fi
echo "install-test-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-test-deps: done"
