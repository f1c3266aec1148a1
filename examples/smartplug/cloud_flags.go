package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/secrets"
)

// Flags of the associated service. Without --cloud the plug runs fully
// local: it connects to nothing, queues nothing and needs nothing
// configured.
//
// The device certificate is made the way a factory makes it: the plug
// prints a certificate signing request signed by its identity key
// (-identity-csr, which needs a provisioned plug: --provision on the line
// or an earlier start), the maker's device CA signs it with the request's
// subject (CN = the plug's device ID), and the plug is then started with
// --cloud-cert pointing at the issued certificate. The private key stays
// in the sealed store (or the TPM / PKCS#11 token) throughout; the plug
// checks at start that the certificate is for its own key and device ID.
//
//	smartplug --state plug1 --provision records/SP100-000001.json -identity-csr > plug1.csr
//	openssl x509 -req -in plug1.csr -CA maker-ca.pem -CAkey maker-ca.key -days 825 \
//	    -extfile <(echo extendedKeyUsage=clientAuth) -out plug1-cert.pem
//	smartplug --state plug1 --cloud mqtts://mqtt.example.com:8883 \
//	    --cloud-ca broker-ca.pem --cloud-cert plug1-cert.pem
const (
	defaultMQTTPort          = "8883"
	defaultTelemetryInterval = time.Hour
	minTelemetryInterval     = time.Second
	maxTelemetryInterval     = 24 * time.Hour
	// maxPEMFile bounds the CA, certificate and key files read at start.
	maxPEMFile = 64 << 10
)

func cloudFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.cloud, "cloud", "", "associated service as `mqtts://HOST[:PORT]` (MQTT over TLS, mutual authentication with the device certificate; port 8883 by default). Without it the plug runs fully local and sends nothing anywhere")
	fs.StringVar(&o.cloudCA, "cloud-ca", "", "PEM `FILE` with the CA certificate(s) the broker's certificate must chain to (pinned; required with --cloud)")
	fs.StringVar(&o.cloudCert, "cloud-cert", "", "PEM `FILE` with the device certificate (and intermediates) the maker's CA issued for the plug's -identity-csr (required with --cloud)")
	fs.StringVar(&o.cloudCommandKey, "cloud-command-key", "", "PEM `FILE` with the service's ECDSA P-256 public key; commands that change a setting run only when signed by it (without it the plug takes only the harmless ping command)")
	fs.DurationVar(&o.telemetryInterval, "telemetry-interval", defaultTelemetryInterval, "how often the plug exports telemetry for the purposes the owner consented to (1s to 24h)")
	fs.IntVar(&o.cloudFleet, "cloud-fleet-size", cloudPolicy.FleetSize, "how many devices share the associated service (the maker's declaration; sizes the start-up spread, 5.9-3)")
	fs.Float64Var(&o.cloudCapacity, "cloud-capacity", cloudPolicy.ServiceCapacity, "new connections per second the associated service admits (the maker's declaration; sizes the start-up spread, 5.9-3)")
	fs.BoolVar(&o.identityCSR, "identity-csr", false, "print a PEM certificate signing request for the device identity key (CN = device ID) to stdout and exit; the plug must be provisioned (--provision, or started once before)")
}

// checkCloudFlags refuses a service URL that is not mqtts and flags that
// need --cloud without it.
func checkCloudFlags(o *options) error {
	if o.telemetryInterval < minTelemetryInterval || o.telemetryInterval > maxTelemetryInterval {
		return fmt.Errorf("--telemetry-interval must be between %s and %s", minTelemetryInterval, maxTelemetryInterval)
	}
	if o.cloudFleet < 1 || !(o.cloudCapacity > 0) {
		return errors.New("--cloud-fleet-size and --cloud-capacity must be positive")
	}
	if o.cloud == "" {
		for name, v := range map[string]string{"cloud-ca": o.cloudCA, "cloud-cert": o.cloudCert, "cloud-command-key": o.cloudCommandKey} {
			if v != "" {
				return fmt.Errorf("--%s needs --cloud", name)
			}
		}
		return nil
	}
	broker, err := parseCloudURL(o.cloud)
	if err != nil {
		return err
	}
	if o.cloudCA == "" || o.cloudCert == "" {
		return errors.New("--cloud needs --cloud-ca (the broker's CA) and --cloud-cert (the device certificate for -identity-csr)")
	}
	o.cloud = "mqtts://" + broker
	return nil
}

// parseCloudURL returns host:port of an mqtts:// URL. Anything else is
// refused: the plug has no unencrypted or unauthenticated way to reach its
// service.
func parseCloudURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" {
		return "", fmt.Errorf("--cloud %q is not a URL; write mqtts://HOST[:PORT]", s)
	}
	if u.Scheme != "mqtts" {
		return "", fmt.Errorf("--cloud %q: only mqtts:// is supported (MQTT over TLS with the device certificate); the plug has no unencrypted mode", s)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--cloud %q: give only mqtts://HOST[:PORT] (no user, path, query or fragment: the plug authenticates with its certificate)", s)
	}
	host, port := u.Hostname(), u.Port()
	if net.ParseIP(host) == nil && !validHostname(host) {
		return "", fmt.Errorf("--cloud %q: no valid host name or IP address", s)
	}
	if port == "" {
		port = defaultMQTTPort
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("--cloud %q: invalid port", s)
	}
	return net.JoinHostPort(host, port), nil
}

// validHostname reports whether h is a DNS name: dot-separated labels of
// ASCII letters, digits and inner hyphens, at most 253 bytes.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// readPEMBlocks returns the DER bytes of every PEM block of type typ in
// file, refusing a file that is too large, holds no such block, or holds
// anything else.
func readPEMBlocks(file, typ string) ([][]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPEMFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", file, maxPEMFile)
	}
	var out [][]byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != typ {
			return nil, fmt.Errorf("%s: holds a %q block where only %q is expected", file, blk.Type, typ)
		}
		out = append(out, blk.Bytes)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no %q PEM block", file, typ)
	}
	return out, nil
}

// readCommandKey reads the service's ECDSA P-256 public key.
func readCommandKey(file string) (*ecdsa.PublicKey, error) {
	ders, err := readPEMBlocks(file, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	if len(ders) != 1 {
		return nil, fmt.Errorf("%s: exactly one public key expected", file)
	}
	pub, err := x509.ParsePKIXPublicKey(ders[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s: not an ECDSA P-256 public key", file)
	}
	return k, nil
}

// writeIdentityCSR opens only what the request needs — the profile, the
// sealed store and the identity (provisioning the plug from --provision
// if it is new) — and writes the PEM request to w. A plug that would have
// to make its own setup secret is refused: that secret would be printed
// nowhere and the plug could never be set up.
func writeIdentityCSR(ctx context.Context, dir string, o options, w io.Writer, log *slog.Logger) error {
	d := &device{dir: dir, log: log}
	if err := d.loadProfile(); err != nil {
		return err
	}
	if _, err := os.Stat(d.path("identity.json")); errors.Is(err, fs.ErrNotExist) && o.provision == "" {
		return errors.New("-identity-csr: the plug is not provisioned yet: give --provision RECORD, or start it once first (it prints its setup secret)")
	}
	kek, err := openKEK(ctx, dir, log)
	if err != nil {
		return fmt.Errorf("key-encryption key: %w", err)
	}
	d.kek = kek
	defer d.Close()
	if d.store, err = secrets.Open(ctx, secrets.Config{Dir: d.path("secrets"), KEK: kek, Logger: log}); err != nil {
		return fmt.Errorf("sealed store: %w", err)
	}
	if _, err := d.loadIdentity(ctx, o.provision); err != nil {
		return err
	}
	id, err := d.store.Identity(ctx)
	if err != nil {
		return fmt.Errorf("device identity: %w", err)
	}
	der, err := id.CreateCSR(&x509.CertificateRequest{Subject: pkix.Name{
		CommonName: d.ident.DeviceID, SerialNumber: d.ident.Serial,
		Organization: []string{d.manufacturer}, OrganizationalUnit: []string{d.model},
	}})
	if err != nil {
		return fmt.Errorf("certificate request: %w", err)
	}
	return pem.Encode(w, &pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}
