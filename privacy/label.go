package privacy

import (
	_ "embed"
	"encoding/json"
	"io"
	"slices"

	"github.com/iotbaseline/baseline/conformance"
)

// LabelSchema is the value of a label's "schema" field.
const LabelSchema = "baseline.privacy-label/v1"

// LabelJSONSchema is the JSON Schema (draft 2020-12) that every label
// [NewLabel] builds validates against; it is published with the package
// (label.schema.json) so that a shop, an app or a lab can check a label
// without this code; [DecodeLabel] checks a label against it in Go.
//
//go:embed label.schema.json
var LabelJSONSchema []byte

// Label is the device's machine-readable privacy label, built from the same
// inventory as its notice.
//
// Its fields follow the attributes of the CMU IoT Security & Privacy Label
// (Emami-Naeini, Agarwal, Cranor, Hibshi: "Ask the Experts: What Should Be
// on an IoT Privacy and Security Label?", IEEE S&P 2020; iotsecurityprivacy.org):
// primary layer — security updates, data practices (sensor data collection,
// other collected data, data stored on the device and in the cloud, data
// shared with, data sold to), privacy policy; secondary layer — per data
// type purpose, retention, sharing and identifiability. They also cover what
// Apple's privacy manifest declares (NSPrivacyTracking,
// NSPrivacyCollectedDataTypes with Linked, Tracking and Purposes): see
// [LabelDataType]. The names are ours, in snake case; the document's shape
// is fixed by [LabelJSONSchema], not by the CMU label generator's file
// format. Security facts come from the conformance profile when one is
// given, never from the inventory.
type Label struct {
	// Schema is [LabelSchema].
	Schema string `json:"schema"`
	// Notice identifies the notice the label was generated with.
	Notice NoticeRef `json:"notice"`
	// Device and Security are present when a profile was given.
	Device   *LabelDevice   `json:"device,omitempty"`
	Security *LabelSecurity `json:"security,omitempty"`
	// DataPractices is the privacy half of the label.
	DataPractices LabelDataPractices `json:"data_practices"`
	// MoreInformation points to the full policy and the controller.
	MoreInformation LabelMoreInfo `json:"more_information"`
}

// LabelDevice names the device (from the conformance profile).
type LabelDevice struct {
	// The profile's manufacturer, model and firmware version.
	Manufacturer    string `json:"manufacturer"`
	Model           string `json:"model"`
	FirmwareVersion string `json:"firmware_version"`
}

// LabelSecurity is the label's security-mechanisms section, as far as the
// conformance profile states it.
type LabelSecurity struct {
	// SecurityUpdatesUntil is the end of the support period (5.3-13).
	SecurityUpdatesUntil string `json:"security_updates_until"`
	// VulnerabilityDisclosure is the disclosure contact and policy (5.2-1).
	VulnerabilityDisclosure conformance.Disclosure `json:"vulnerability_disclosure"`
}

// LabelDataPractices is the label's data-practices section.
type LabelDataPractices struct {
	// SensorDataCollection lists every sensor (CMU "sensor data
	// collection"; EN 303 645 5.8-3).
	SensorDataCollection []LabelSensor `json:"sensor_data_collection"`
	// OtherCollectedData lists the category IDs not produced by a sensor
	// (CMU "other collected data").
	OtherCollectedData []string `json:"other_collected_data"`
	// DataTypes describes each personal-data category.
	DataTypes []LabelDataType `json:"data_types"`
	// Purposes describes each purpose.
	Purposes []LabelPurpose `json:"purposes"`
	// Recipients lists everyone who receives data.
	Recipients []Recipient `json:"recipients"`
	// StoredOnDevice and StoredInCloud list the category IDs kept there.
	StoredOnDevice []string `json:"stored_on_device"`
	StoredInCloud  []string `json:"stored_in_cloud"`
	// SharedWithThirdParties, Sold and Tracking sum up the data types.
	SharedWithThirdParties bool `json:"shared_with_third_parties"`
	Sold                   bool `json:"sold"`
	// Tracking is Apple's NSPrivacyTracking: some data is used to track.
	Tracking bool `json:"tracking"`
}

// LabelSensor is one sensor on the label.
type LabelSensor struct {
	// The sensor as the inventory declares it; DataTypes are its
	// category IDs.
	ID             string   `json:"id"`
	Kind           string   `json:"kind"`
	Description    string   `json:"description"`
	Indicator      string   `json:"indicator"`
	UserCanDisable bool     `json:"user_can_disable"`
	DataTypes      []string `json:"data_types"`
}

// LabelDataType is one personal-data category with everything the label
// says about it; Linked, Tracking and Purposes are Apple's
// NSPrivacyCollectedDataTypeLinked, …Tracking and …Purposes.
type LabelDataType struct {
	// ID, Name, Sensitive, Linked, Tracking, Source and Storage are the
	// inventory category's; Purposes lists the purpose IDs using it.
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Sensitive bool     `json:"sensitive"`
	Linked    bool     `json:"linked"`
	Tracking  bool     `json:"tracking"`
	Source    string   `json:"source"`
	Storage   []string `json:"storage"`
	Purposes  []string `json:"purposes"`
	// SharedWith and SoldTo list recipient IDs (CMU "data shared with",
	// "data sold to").
	SharedWith []string `json:"shared_with"`
	SoldTo     []string `json:"sold_to"`
	// RetentionDays is the longest retention among its purposes.
	RetentionDays int `json:"retention_days"`
}

// LabelPurpose is one purpose on the label.
type LabelPurpose struct {
	// ID, Description, LegalBasis, DataTypes (category IDs), Recipients
	// and RetentionDays are the inventory purpose's.
	ID          string     `json:"id"`
	Description string     `json:"description"`
	LegalBasis  LegalBasis `json:"legal_basis"`
	// ConsentRequired is true when the purpose rests on consent: the user
	// may refuse it and withdraw it at any time.
	ConsentRequired bool     `json:"consent_required"`
	DataTypes       []string `json:"data_types"`
	Recipients      []string `json:"recipients"`
	RetentionDays   int      `json:"retention_days"`
}

// LabelMoreInfo is the label's pointer to more information.
type LabelMoreInfo struct {
	// PrivacyPolicy is the policy URL; Controller and Contact are the
	// controller's name and contact.
	PrivacyPolicy string `json:"privacy_policy"`
	Controller    string `json:"controller"`
	Contact       string `json:"contact"`
}

// NewLabel builds the label from a notice (and so from its inventory) and,
// optionally, the device's conformance profile for the device and security
// sections; profile may be nil.
func NewLabel(n *Notice, profile *conformance.Profile) *Label {
	inv := n.inv
	l := &Label{Schema: LabelSchema, Notice: n.Ref()}
	if profile != nil {
		l.Device = &LabelDevice{Manufacturer: profile.Manufacturer, Model: profile.Model, FirmwareVersion: profile.FirmwareVersion}
		l.Security = &LabelSecurity{SecurityUpdatesUntil: profile.SupportPeriodEnd, VulnerabilityDisclosure: profile.VulnerabilityDisclosure}
	}
	dp := &l.DataPractices
	dp.SensorDataCollection = []LabelSensor{}
	for _, s := range inv.Sensors {
		dp.SensorDataCollection = append(dp.SensorDataCollection, LabelSensor{ID: s.ID, Kind: s.Kind, Description: s.Description,
			Indicator: s.Indicator, UserCanDisable: s.UserCanDisable, DataTypes: nonNil(s.Categories)})
	}
	dp.OtherCollectedData, dp.StoredOnDevice, dp.StoredInCloud = []string{}, []string{}, []string{}
	dp.DataTypes, dp.Purposes = []LabelDataType{}, []LabelPurpose{}
	dp.Recipients = nonNil(inv.Recipients)
	for _, c := range inv.Categories {
		dt := LabelDataType{ID: c.ID, Name: c.Name, Sensitive: c.Sensitive, Linked: c.Linked, Tracking: c.Tracking,
			Source: c.Source, Storage: nonNil(c.Storage), Purposes: []string{}, SharedWith: []string{}, SoldTo: []string{}}
		if c.Source == "user" || c.Source == "device" {
			dp.OtherCollectedData = append(dp.OtherCollectedData, c.ID)
		}
		if slices.Contains(c.Storage, "device") {
			dp.StoredOnDevice = append(dp.StoredOnDevice, c.ID)
		}
		if slices.Contains(c.Storage, "cloud") {
			dp.StoredInCloud = append(dp.StoredInCloud, c.ID)
		}
		for _, p := range inv.Purposes {
			if !slices.Contains(p.Categories, c.ID) {
				continue
			}
			dt.Purposes = append(dt.Purposes, p.ID)
			dt.RetentionDays = max(dt.RetentionDays, p.RetentionDays)
			for _, rid := range p.Recipients {
				r, _ := inv.Recipient(rid)
				if !slices.Contains(dt.SharedWith, rid) {
					dt.SharedWith = append(dt.SharedWith, rid)
				}
				if r.Sold && !slices.Contains(dt.SoldTo, rid) {
					dt.SoldTo = append(dt.SoldTo, rid)
				}
				dp.SharedWithThirdParties = dp.SharedWithThirdParties || r.Role == RoleThirdParty
				dp.Sold = dp.Sold || r.Sold
			}
		}
		dp.Tracking = dp.Tracking || c.Tracking
		dp.DataTypes = append(dp.DataTypes, dt)
	}
	for _, p := range inv.Purposes {
		dp.Purposes = append(dp.Purposes, LabelPurpose{ID: p.ID, Description: p.Description, LegalBasis: p.LegalBasis,
			ConsentRequired: p.LegalBasis == BasisConsent, DataTypes: nonNil(p.Categories), Recipients: nonNil(p.Recipients), RetentionDays: p.RetentionDays})
	}
	l.MoreInformation = LabelMoreInfo{PrivacyPolicy: inv.Controller.PolicyURL, Controller: inv.Controller.Name, Contact: inv.Controller.Contact}
	return l
}

// WriteJSON writes the label as indented JSON.
func (l *Label) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(l)
}

// nonNil returns a copy of s that is never nil, so JSON shows [] rather
// than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return slices.Clone(s)
}
