package main

import (
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
)

// SARIF 2.1.0, the parts code-scanning services read.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string       `json:"id"`
	ShortDescription sarifMessage `json:"shortDescription"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

// sarifInvocation carries what is not a result: files that could not be
// read (execution is then unsuccessful: the scan is incomplete) and
// allow-list entries that matched nothing.
type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications"`
}

type sarifNotification struct {
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	Level               string            `json:"level"`
	Message             sarifMessage      `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Suppressions        []sarifSuppress   `json:"suppressions,omitempty"`
}

type sarifSuppress struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	ByteOffset int64 `json:"byteOffset"`
	ByteLength int   `json:"byteLength"`
	StartLine  int   `json:"startLine,omitempty"`
}

// sarifURI makes a report path a URI: a relative reference for a relative
// path, a file URI for an absolute one.
func sarifURI(p string) string {
	if filepath.IsAbs(filepath.FromSlash(p)) {
		return (&url.URL{Scheme: "file", Path: p}).String()
	}
	return (&url.URL{Path: p}).String()
}

func sarifOf(r *scanResult) sarifLog {
	kinds := make([]string, 0, len(kindText))
	for k := range kindText {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	drv := sarifDriver{Name: "baseline scan", InformationURI: "https://pkg.go.dev/github.com/iotbaseline/baseline/cmd/baseline"}
	for _, k := range kinds {
		drv.Rules = append(drv.Rules, sarifRule{ID: k, ShortDescription: sarifMessage{kindText[k]}})
	}
	res := []sarifResult{}
	conv := func(f scanFinding, sup bool) sarifResult {
		sr := sarifResult{RuleID: f.Kind, Level: "error",
			Message: sarifMessage{fmt.Sprintf("%s: %s (%s)", kindText[f.Kind], f.Detail, f.Preview)},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: sarifURI(f.Path)},
				Region: &sarifRegion{ByteOffset: f.Offset, ByteLength: f.Length, StartLine: f.Line}}}},
			PartialFingerprints: map[string]string{"baselineScan/v1": f.Fingerprint}}
		if sup {
			sr.Suppressions = []sarifSuppress{{Kind: "external", Justification: f.Reason}}
		}
		return sr
	}
	for _, f := range r.Findings {
		res = append(res, conv(f, false))
	}
	for _, f := range r.Suppressed {
		res = append(res, conv(f, true))
	}
	inv := sarifInvocation{ExecutionSuccessful: len(r.Errors) == 0, ToolExecutionNotifications: []sarifNotification{}}
	for _, e := range r.Errors {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{Level: "error",
			Message:   sarifMessage{"not scanned: " + e.Error},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: sarifURI(e.Path)}}}}})
	}
	for _, u := range r.UnusedAllow {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{Level: "warning",
			Message: sarifMessage{"allow-list entry matched nothing: " + u}})
	}
	return sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0",
		Runs: []sarifRun{{Tool: sarifTool{Driver: drv}, Invocations: []sarifInvocation{inv}, Results: res}}}
}
