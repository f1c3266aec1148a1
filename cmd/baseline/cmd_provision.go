package main

import (
	"bytes"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unicode"

	"github.com/iotbaseline/baseline/auth"
)

func init() {
	register(command{
		name:    "provision",
		summary: "make setup secrets (label stream) and device records (verifiers) for a factory batch (5.1-2, 5.4-4)",
		run:     runProvision,
	})
}

// maxBatch bounds one run: each device costs an Argon2id hash (19 MiB, tens
// of milliseconds), and a typo should not start an hours-long job.
const maxBatch = 100000

func provisionUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, `usage: baseline provision --model MODEL --count N --serial-prefix PREFIX --labels FILE --records DIR [flags]

Makes one setup secret per device, uniformly random (80 bits, Crockford
base32 with a check symbol), never derived from the serial. The secrets go to
the label file only (CSV for the label printer: serial, model, setup secret,
QR payload; mode 0600). Each device gets a record in DIR holding its serial,
a random device ID and the Argon2id verifier of its secret, not the secret
(start the device with --provision DIR/SERIAL.json). Serials, device IDs,
secrets and verifiers are checked unique across the batch and against the
records already in DIR; nothing is overwritten.`)
	fmt.Fprintln(w)
	fs.PrintDefaults()
}

func runProvision(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("provision", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "model designation printed on the label (5.3-16; required)")
	count := fs.Int("count", 0, "number of devices in the batch (required)")
	prefix := fs.String("serial-prefix", "", "serial number prefix; serials are PREFIX + 6-digit sequence (required)")
	first := fs.Int("first", 1, "sequence number of the batch's first device")
	labels := fs.String("labels", "", "label `FILE` to create (CSV, contains the setup secrets; required)")
	records := fs.String("records", "", "`DIR` for the device records (created if missing; required)")
	batch := fs.String("batch", "", "batch name recorded in each record (default: the UTC time)")
	workers := fs.Int("workers", min(runtime.GOMAXPROCS(0), 8), "devices prepared in parallel (each holds 19 MiB while hashing)")
	fs.Usage = func() { provisionUsage(stderr, fs) }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "baseline provision: "+format+"\n", a...)
		return 2
	}
	switch {
	case fs.NArg() != 0:
		return fail("unexpected argument %q", fs.Arg(0))
	case !auth.ValidModel(*model): // checked on the flag so a typo fails before the batch is hashed
		return fail("--model: required, 1-64 letters, digits, spaces and ._/+-")
	case *count < 1 || *count > maxBatch:
		return fail("--count: must be between 1 and %d", maxBatch)
	case *prefix == "" || !auth.ValidSerial(*prefix+"000000"):
		return fail("--serial-prefix: required, letters, digits and ._- (at most 58)")
	case *first < 0 || *first+*count-1 > 999999:
		return fail("--first: sequence numbers must stay within 0..999999")
	case *labels == "" || *records == "":
		return fail("--labels and --records are required")
	case *workers < 1 || *workers > 64:
		return fail("--workers: must be between 1 and 64")
	case len(*batch) > 64 || strings.ContainsFunc(*batch, unicode.IsControl):
		return fail("--batch: at most 64 bytes, no control characters")
	}
	t := now().UTC()
	if *batch == "" {
		*batch = t.Format("20060102T150405Z")
	}
	if _, err := os.Stat(*labels); err == nil {
		return fail("%s already exists; labels are never overwritten", *labels)
	}

	// What earlier batches already used, so that a serial or device ID is
	// never issued twice from the same records directory.
	seen := map[string]string{}
	claim := func(kind, v, who string) error {
		k := kind + "\x00" + v
		if prev, dup := seen[k]; dup {
			return fmt.Errorf("%s of %s duplicates %s", kind, who, prev)
		}
		seen[k] = who
		return nil
	}
	existing, err := loadRecords(*records)
	if err != nil {
		return fail("%v", err)
	}
	for name, r := range existing {
		for _, c := range [][2]string{{"serial", r.Serial}, {"device ID", r.DeviceID}, {"verifier", r.SetupVerifier}} {
			if err := claim(c[0], c[1], name); err != nil {
				return fail("records directory is inconsistent: %v", err)
			}
		}
	}

	// The expensive part (an Argon2id verifier per device, checked once)
	// runs on several workers; uniqueness is then claimed in serial order.
	type made struct {
		secret, verifier string
		err              error
	}
	results := make([]made, *count)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(*workers, *count) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				secret, err := auth.NewSetupSecret()
				if err != nil {
					results[i].err = err
					continue
				}
				verifier, err := secret.Verifier(auth.Params{})
				if err == nil && !secret.Matches(verifier) {
					err = errors.New("verifier does not match its secret")
				}
				results[i] = made{secret: secret.Reveal(), verifier: verifier, err: err}
			}
		}()
	}
	for i := range *count {
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	var recs []auth.ProvisioningRecord
	var labelRows [][]string
	for i := range *count {
		serial := fmt.Sprintf("%s%06d", *prefix, *first+i)
		who := "device " + serial
		if results[i].err != nil {
			return fail("%s: %v; nothing written", serial, results[i].err)
		}
		var id [16]byte
		rand.Read(id[:])
		for _, c := range [][2]string{{"serial", serial}, {"device ID", hex.EncodeToString(id[:])}, {"setup secret", results[i].secret}, {"verifier", results[i].verifier}} {
			if err := claim(c[0], c[1], who); err != nil {
				fmt.Fprintf(stderr, "baseline provision: %v; nothing written\n", err)
				return 1
			}
		}
		rec := auth.ProvisioningRecord{
			Schema: auth.ProvisioningSchema, Serial: serial, Model: *model, DeviceID: hex.EncodeToString(id[:]),
			SetupVerifier: results[i].verifier, Batch: *batch, Created: t,
		}
		// The device decodes the record with the same rules; a record it
		// would refuse is never written.
		if err := rec.Validate(); err != nil {
			return fail("%s: %v; nothing written", serial, err)
		}
		recs = append(recs, rec)
		labelRows = append(labelRows, []string{serial, *model, results[i].secret, qrPayload(*model, serial, results[i].secret)})
	}

	// Write: label file first (exclusive create), then records (exclusive
	// create each). On any failure, remove what this run created.
	var created []string
	undo := func() {
		for _, p := range created {
			os.Remove(p)
		}
	}
	var lb bytes.Buffer
	cw := csv.NewWriter(&lb)
	cw.Write([]string{"serial", "model", "setup_secret", "qr_payload"})
	cw.WriteAll(labelRows)
	if err := writeExclusive(*labels, lb.Bytes()); err != nil {
		return fail("%v", err)
	}
	created = append(created, *labels)
	if err := os.MkdirAll(*records, 0o700); err != nil {
		undo()
		return fail("%v", err)
	}
	for _, r := range recs {
		var b bytes.Buffer
		if err := r.WriteJSON(&b); err != nil {
			undo()
			return fail("%s: %v; nothing written", r.Serial, err)
		}
		p := filepath.Join(*records, r.Serial+".json")
		if err := writeExclusive(p, b.Bytes()); err != nil {
			undo()
			return fail("%v; nothing written", err)
		}
		created = append(created, p)
	}
	fmt.Fprintf(stdout, "provisioned %d device(s) of %s: serials %s..%s\nlabels (setup secrets, send to the printer only): %s\nrecords (verifiers, one per device): %s\n",
		len(recs), *model, recs[0].Serial, recs[len(recs)-1].Serial, *labels, *records)
	return 0
}

// qrPayload is what the label's QR code encodes: enough for a companion app
// to open the setup page with the secret filled in.
func qrPayload(model, serial, secret string) string {
	v := url.Values{}
	v.Set("v", "1")
	v.Set("model", model)
	v.Set("serial", serial)
	v.Set("secret", secret)
	return "baseline-setup:?" + v.Encode()
}

func writeExclusive(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
	}
	return err
}

// loadRecords reads the device records already in dir (none if it does not
// exist yet), refusing malformed ones.
func loadRecords(dir string) (map[string]*auth.ProvisioningRecord, error) {
	out := map[string]*auth.ProvisioningRecord{}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		r, err := readRecord(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out[e.Name()] = r
	}
	return out, nil
}

func readRecord(name string) (*auth.ProvisioningRecord, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := auth.DecodeProvisioningRecord(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}
