package secrets

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
)

// Checks implements conformance.Checker: what the running store observes
// about provisions 5.4-1 (secrets at rest) and 5.4-2/5.4-4 (device identity),
// for the backend actually in use. Both exercise the running store (a real
// wrap/unwrap and a real signature) and are [conformance.Measured]; a
// measured INCONCLUSIVE still says what the soft backend cannot promise.
//
//   - secrets.sealed-at-rest (5.4-1): a live wrap/unwrap probe of the KEK and
//     a scan of the store directory (every file must be a sealed envelope).
//     PASS only with a hardware KEK; the soft KEK gives INCONCLUSIVE with the
//     reason; a failed probe or a stray file gives FAIL.
//   - secrets.device-identity (5.4-2, 5.4-4): the identity key signs and
//     verifies; PASS when it lives in hardware, INCONCLUSIVE for the soft
//     key or when no identity was created.
func (s *Sealed) Checks() []conformance.Check {
	return []conformance.Check{
		{ID: "secrets.sealed-at-rest", Method: conformance.Measured, Provisions: []string{"5.4-1"}, Title: "Sensitive security parameters are stored sealed under a device key", Run: s.checkAtRest},
		{ID: "secrets.device-identity", Method: conformance.Measured, Provisions: []string{"5.4-2", "5.4-4"}, Title: "Device identity key is unique to the device and protected from extraction", Run: s.checkIdentity},
	}
}

func (s *Sealed) checkAtRest(ctx context.Context) conformance.Result {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.erased {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: "store erased", Detail: "the store was crypto-erased; restart the device to create a new one"}
	}
	probe := make([]byte, kwkLen)
	rand.Read(probe)
	w, err := s.kek.Wrap(ctx, probe)
	if err == nil {
		var got []byte
		got, err = s.kek.Unwrap(ctx, w)
		if err == nil && !bytes.Equal(got, probe) {
			err = errors.New("unwrap returned different bytes")
		}
		if err == nil && bytes.Contains(w, probe) {
			err = errors.New("wrapped key contains the key in clear")
		}
	}
	if err != nil {
		return conformance.Result{Verdict: conformance.Fail, Observed: "kek=" + s.info.Backend, Detail: "KEK wrap/unwrap probe failed: " + err.Error()}
	}
	ents, err := s.fsys.ReadDir(s.dir)
	if err != nil {
		return conformance.Result{Verdict: conformance.Fail, Detail: "cannot list the store directory: " + err.Error()}
	}
	var n int
	var stray []string
	for _, e := range ents {
		name := e.Name()
		switch {
		case e.IsDir():
			stray = append(stray, name+"/")
		case name == keysetFile || strings.HasSuffix(name, secretExt):
			b, err := durable.ReadFile(s.fsys, s.file(name), int64(maxEnvelopeBase+s.maxRead))
			if err != nil && errors.Is(err, fs.ErrNotExist) {
				continue // deleted meanwhile
			}
			if err != nil {
				stray = append(stray, name)
				continue
			}
			if _, err := decodeEnvelope(b, max(maxKeyset, s.maxRead)); err != nil {
				stray = append(stray, name)
				continue
			}
			if name != keysetFile {
				n++
			}
		case strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".tmp"):
		default:
			stray = append(stray, name)
		}
	}
	observed := fmt.Sprintf("kek=%s (%s, %s); %d secret(s) in %s envelopes", s.info.Backend, s.info.Algorithm, s.info.Detail, n, AlgSecret)
	if len(stray) > 0 {
		return conformance.Result{Verdict: conformance.Fail, Observed: observed, Detail: fmt.Sprintf("files in the store directory that are not sealed envelopes: %q", stray)}
	}
	if !s.info.Hardware {
		why := "secrets are sealed, but by a " + s.info.Backend + " KEK whose key material is on the same flash: a full flash dump recovers every secret; use secrets/tpm or secrets/pkcs11 for hardware protection"
		if s.info.Backend != "soft" {
			why = "secrets are sealed, but the " + s.info.Backend + " KEK is software (" + s.info.Detail + "), not a hardware security boundary"
		}
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: observed, Detail: why}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: observed}
}

func (s *Sealed) checkIdentity(ctx context.Context) conformance.Result {
	s.mu.RLock()
	id, erased := s.ident, s.erased
	s.mu.RUnlock()
	if erased {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: "store erased", Detail: "the store was crypto-erased"}
	}
	if id == nil {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: "kek=" + s.info.Backend + "; no identity key loaded",
			Detail: "the device has not called Sealed.Identity since start-up, so no identity key was observed"}
	}
	pub, ok := id.Public().(*ecdsa.PublicKey)
	if !ok {
		return conformance.Result{Verdict: conformance.Fail, Detail: fmt.Sprintf("identity public key of type %T", id.Public())}
	}
	msg := make([]byte, 32)
	rand.Read(msg)
	digest := sha256.Sum256(msg)
	sig, err := id.Sign(rand.Reader, digest[:], nil)
	if err != nil || !ecdsa.VerifyASN1(pub, digest[:], sig) {
		return conformance.Result{Verdict: conformance.Fail, Observed: "identity=" + id.backend, Detail: fmt.Sprintf("identity key does not produce a valid signature (err=%v)", err)}
	}
	observed := fmt.Sprintf("identity=ECDSA %s in %s, generated on device, hardware=%t", pub.Curve.Params().Name, id.backend, id.hardware)
	if !id.hardware {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: observed,
			Detail: "the identity key was generated on this device, but it is sealed by the soft KEK: a cloned flash image carries it to another unit and a full dump extracts it; uniqueness across a batch is checked by `baseline provision`"}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: observed}
}
