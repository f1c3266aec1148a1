package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// MaxReportSize bounds a self-check report read by [DecodeReport] (1 MiB).
const MaxReportSize = 1 << 20

// MaxReportResults bounds how many results one report may carry.
const MaxReportResults = 1024

// ErrReport is wrapped by every error [DecodeReport] returns.
var ErrReport = errors.New("conformance: bad self-check report")

// DecodeReport reads a self-check report as [Report.WriteJSON] writes it,
// for example one fetched from a device's report endpoint, so that its
// results can be attached to a statement ([Statement.Attach]). It is
// strict: at most [MaxReportSize] bytes and [MaxReportResults] results, no
// unknown fields, no trailing data, every verdict and method one of the
// defined values, every result with an ID and at least one provision, text
// fields within [MaxTextLen]. Provision IDs are not checked here; a result
// naming an unknown provision is reported by the statement. Errors wrap
// [ErrReport] and never echo more than a few bytes of the input.
func DecodeReport(r io.Reader) (*Report, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxReportSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading: %w", ErrReport, err)
	}
	if len(data) > MaxReportSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrReport, MaxReportSize)
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrReport)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var rep Report
	if err := dec.Decode(&rep); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrReport, printable(err.Error(), 200))
	}
	// Anything after the value, even a lone '}' or ']', is refused.
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the report", ErrReport)
	}
	if len(rep.Results) > MaxReportResults {
		return nil, fmt.Errorf("%w: %d results; at most %d", ErrReport, len(rep.Results), MaxReportResults)
	}
	if msg := checkText(rep.Model, MaxFieldLen, false); msg != "" {
		return nil, fmt.Errorf("%w: model: %s", ErrReport, msg)
	}
	if msg := checkText(rep.FirmwareVersion, MaxFieldLen, false); msg != "" {
		return nil, fmt.Errorf("%w: firmware_version: %s", ErrReport, msg)
	}
	for i, res := range rep.Results {
		where := fmt.Sprintf("results[%d]", i)
		if res.ID == "" || len(res.Provisions) == 0 {
			return nil, fmt.Errorf("%w: %s: a result needs an id and at least one provision", ErrReport, where)
		}
		if !res.Verdict.Valid() {
			return nil, fmt.Errorf("%w: %s: verdict %q is not one of PASS, FAIL, INCONCLUSIVE, NOT_APPLICABLE, DECLARED, NOT_RUN", ErrReport, where, truncate(string(res.Verdict), 32))
		}
		switch res.Method {
		case Measured, Configured:
		default:
			return nil, fmt.Errorf("%w: %s: method %q is not measured or configured", ErrReport, where, truncate(string(res.Method), 32))
		}
		if len(res.Provisions) > 64 {
			return nil, fmt.Errorf("%w: %s: %d provisions", ErrReport, where, len(res.Provisions))
		}
		for _, f := range []struct{ name, v string }{{"id", res.ID}, {"title", res.Title}, {"observed", res.Observed}, {"detail", res.Detail}} {
			if msg := checkText(f.v, MaxTextLen, true); msg != "" {
				return nil, fmt.Errorf("%w: %s.%s: %s", ErrReport, where, f.name, msg)
			}
		}
		for _, p := range res.Provisions {
			if msg := checkText(p, 16, false); msg != "" {
				return nil, fmt.Errorf("%w: %s.provisions: %s", ErrReport, where, msg)
			}
		}
	}
	return &rep, nil
}
