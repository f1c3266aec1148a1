package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/iotbaseline/baseline/auth"
)

// readProvisionRecord reads the factory's record for this device (written
// by `baseline provision`) with auth's strict decoder: one bounded JSON
// object, known fields only, nothing after it, a well-formed verifier.
func readProvisionRecord(name string) (*auth.ProvisioningRecord, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("device record: %w", err)
	}
	defer f.Close()
	rec, err := auth.DecodeProvisioningRecord(f)
	if err != nil {
		return nil, fmt.Errorf("device record %s: %w", filepath.Base(name), err)
	}
	return rec, nil
}

// newSetupSecret acts as the factory for a device run without a record:
// it draws a setup secret and returns the label text and its verifier. The
// secret itself is never stored.
func newSetupSecret() (label, verifier string, err error) {
	s, err := auth.NewSetupSecret()
	if err != nil {
		return "", "", err
	}
	v, err := s.Verifier(auth.Params{})
	if err != nil {
		return "", "", err
	}
	return s.Reveal(), v, nil
}
