#!/usr/bin/env bash
# Installs every tool the full test suite drives against the real thing:
#   swtpm (TPM 2.0 simulator), SoftHSM2 (PKCS#11 token), nmap, testssl.sh and
#   hydra (what a test lab runs against the device), Chromium (web UI tests),
#   Mosquitto (the MQTT link's broker), RAUC with dbus and squashfs-tools (A/B adapter),
#   and cosign v2 (verifies `baseline evidence` bundles; Debian has no package, so it is
#   built from the Go module proxy at a pinned version, about 3.5 minutes on 2 cores).
# Debian packages otherwise; idempotent; needs root (CI and dev machines run as root).
set -euo pipefail

pkgs=(swtpm swtpm-tools softhsm2 nmap testssl.sh hydra chromium chromium-driver ca-certificates
	mosquitto mosquitto-clients rauc rauc-service dbus squashfs-tools)

COSIGN_VERSION=v2.6.5
install_cosign() {
	if command -v cosign >/dev/null 2>&1; then
		return
	fi
	echo "install-test-deps: building cosign $COSIGN_VERSION from the Go module proxy"
	local bin=/usr/local/bin
	[ -w "$bin" ] || bin="$(go env GOPATH)/bin"
	(cd / && GOBIN="$bin" GOFLAGS= go install "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION")
	command -v cosign >/dev/null 2>&1 || { echo "install-test-deps: cosign installed in $bin, which is not on PATH" >&2; exit 1; }
}

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	install_cosign
	echo "install-test-deps: all present"
	exit 0
fi
echo "install-test-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_cosign
echo "install-test-deps: done"
