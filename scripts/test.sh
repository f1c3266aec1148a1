#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the tools the tests drive
# (swtpm, SoftHSM2, nmap, testssl.sh, hydra, Chromium), then gofmt, go vet,
# staticcheck and `go test -race` over every package with
# BASELINE_REQUIRE_ALL=1, so a test that would skip for a missing tool fails.
set -euo pipefail
cd "$(dirname "$0")/.."

export BASELINE_REQUIRE_ALL=1
export GOFLAGS="${GOFLAGS:-} -mod=readonly"

step() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

step "install test tools"
bash scripts/install-test-deps.sh

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

step "baseline scan: no hard-coded secrets in the repository (5.4-3)"
go run ./cmd/baseline scan -allow .baseline-scan-allow .

step "argon2 fork: generic code (-tags purego) and ARM cross-builds"
go test -count=1 -tags purego ./auth/internal/argon2
GOOS=linux GOARCH=arm64 go build ./...
GOOS=linux GOARCH=arm GOARM=7 go build ./...

step "go test -race"
go test -race -count=1 -timeout 25m ./... 2>&1 | tee /tmp/baseline-test.log
status=${PIPESTATUS[0]}
exit "$status"
