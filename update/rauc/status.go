package rauc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Status is what `rauc status --output-format=json` reports.
type Status struct {
	// Compatible is the system's compatible string from system.conf.
	Compatible string
	// Variant is the system variant ("" when none).
	Variant string
	// Booted is the bootname of the slot the system booted from.
	Booted string
	// Primary is the name of the slot the bootloader starts next (for
	// example "rootfs.1"), "" when the bootloader did not say.
	Primary string
	// Slots lists every slot in the order rauc printed them.
	Slots []SlotStatus
}

// SlotStatus is one slot in a [Status].
type SlotStatus struct {
	// Name is the slot's name, class.index ("rootfs.0").
	Name string
	// Class is the slot class ("rootfs").
	Class string
	// Device is the slot's device or file.
	Device string
	// Type is the slot type ("raw", "ext4", ...).
	Type string
	// Bootname is the name the bootloader knows the slot by ("" for
	// slots the bootloader does not start).
	Bootname string
	// State is "booted", "active" or "inactive".
	State string
	// BootStatus is the bootloader's mark, "good" or "bad" ("" when the
	// slot has no bootname or the bootloader did not answer).
	BootStatus string
}

// BootedSlot returns the slot rauc reports as booted, or nil.
func (st *Status) BootedSlot() *SlotStatus {
	for i := range st.Slots {
		if st.Slots[i].State == "booted" {
			return &st.Slots[i]
		}
	}
	return nil
}

// Slot returns the slot named name, or nil.
func (st *Status) Slot(name string) *SlotStatus {
	for i := range st.Slots {
		if st.Slots[i].Name == name {
			return &st.Slots[i]
		}
	}
	return nil
}

// PendingReboot reports whether the bootloader's primary slot is not the
// booted one: an installed bundle waits for the restart (or the booted slot
// is a fallback after a failure).
func (st *Status) PendingReboot() bool {
	b := st.BootedSlot()
	return st.Primary != "" && b != nil && b.Name != st.Primary
}

// The JSON shape of rauc 1.8:
//
//	{"compatible":"…","variant":"","booted":"A","boot_primary":"rootfs.0",
//	 "slots":[{"rootfs.1":{"class":"rootfs","device":"/dev/…","type":"raw",
//	   "bootname":"B","state":"inactive","parent":null,"mountpoint":null,
//	   "boot_status":"good"}}, …]}
//
// Fields this package does not use (parent, mountpoint, and the
// slot_status of --detailed) are skipped; every field it uses must have the
// type rauc prints (string, or null where rauc prints null).
type statusJSON struct {
	Compatible  *string           `json:"compatible"`
	Variant     *string           `json:"variant"`
	Booted      *string           `json:"booted"`
	BootPrimary *string           `json:"boot_primary"`
	Slots       []json.RawMessage `json:"slots"`
}

type slotJSON struct {
	Class      *string `json:"class"`
	Device     *string `json:"device"`
	Type       *string `json:"type"`
	Bootname   *string `json:"bootname"`
	State      *string `json:"state"`
	BootStatus *string `json:"boot_status"`
}

const maxField = 4096

func str(p *string, what string, required bool) (string, error) {
	if p == nil {
		if required {
			return "", fmt.Errorf("%w: %s missing", ErrStatus, what)
		}
		return "", nil
	}
	if len(*p) > maxField {
		return "", fmt.Errorf("%w: %s longer than %d bytes", ErrStatus, what, maxField)
	}
	return *p, nil
}

// ParseStatus decodes the output of `rauc status --output-format=json`
// (rauc 1.8's shape; --detailed output is accepted too). It refuses input
// over MaxStatusBytes, more than MaxSlots slots, fields over 4 KiB, a slot
// entry that is not an object with exactly one slot name, duplicate slot
// names, a missing "booted", "slots" or slot "state", a state or boot status
// rauc does not print, more than one booted slot, a primary that names no
// slot, and trailing data. Unknown fields are ignored, since rauc adds them
// between releases.
func ParseStatus(b []byte) (*Status, error) {
	if len(b) > MaxStatusBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrStatus, MaxStatusBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var raw statusJSON
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStatus, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data", ErrStatus)
	}
	if raw.Slots == nil {
		return nil, fmt.Errorf("%w: slots missing", ErrStatus)
	}
	if len(raw.Slots) > MaxSlots {
		return nil, fmt.Errorf("%w: more than %d slots", ErrStatus, MaxSlots)
	}
	var st Status
	var err error
	if st.Compatible, err = str(raw.Compatible, "compatible", false); err != nil {
		return nil, err
	}
	if st.Variant, err = str(raw.Variant, "variant", false); err != nil {
		return nil, err
	}
	if st.Booted, err = str(raw.Booted, "booted", true); err != nil {
		return nil, err
	}
	if st.Primary, err = str(raw.BootPrimary, "boot_primary", false); err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(raw.Slots))
	booted := 0
	for i, rs := range raw.Slots {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(rs, &one); err != nil || len(one) != 1 {
			return nil, fmt.Errorf("%w: slot entry %d is not an object with one slot", ErrStatus, i)
		}
		// encoding/json keeps the last of duplicate keys; a second key
		// would have made len(one) > 1 only if distinct, so count keys
		// in the raw entry as well.
		if n, err := countKeys(rs); err != nil || n != 1 {
			return nil, fmt.Errorf("%w: slot entry %d is not an object with one slot", ErrStatus, i)
		}
		for name, body := range one {
			if name == "" || len(name) > maxField {
				return nil, fmt.Errorf("%w: slot entry %d has an invalid name", ErrStatus, i)
			}
			if seen[name] {
				return nil, fmt.Errorf("%w: slot %q listed twice", ErrStatus, name)
			}
			seen[name] = true
			var sj slotJSON
			if err := json.Unmarshal(body, &sj); err != nil {
				return nil, fmt.Errorf("%w: slot %q: %v", ErrStatus, name, err)
			}
			ss := SlotStatus{Name: name}
			for _, f := range []struct {
				p        *string
				dst      *string
				what     string
				required bool
			}{
				{sj.Class, &ss.Class, "class", false},
				{sj.Device, &ss.Device, "device", false},
				{sj.Type, &ss.Type, "type", false},
				{sj.Bootname, &ss.Bootname, "bootname", false},
				{sj.State, &ss.State, "state", true},
				{sj.BootStatus, &ss.BootStatus, "boot_status", false},
			} {
				if *f.dst, err = str(f.p, "slot "+name+" "+f.what, f.required); err != nil {
					return nil, err
				}
			}
			switch ss.State {
			case "booted":
				booted++
			case "active", "inactive":
			default:
				return nil, fmt.Errorf("%w: slot %q has unknown state", ErrStatus, name)
			}
			switch ss.BootStatus {
			case "", "good", "bad":
			default:
				return nil, fmt.Errorf("%w: slot %q has unknown boot status", ErrStatus, name)
			}
			st.Slots = append(st.Slots, ss)
		}
	}
	if booted > 1 {
		return nil, fmt.Errorf("%w: more than one booted slot", ErrStatus)
	}
	if st.Primary != "" && !seen[st.Primary] {
		return nil, fmt.Errorf("%w: boot_primary names no slot", ErrStatus)
	}
	return &st, nil
}

// countKeys counts the top-level keys of the JSON object b.
func countKeys(b []byte) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return 0, fmt.Errorf("not an object")
	}
	n := 0
	for dec.More() {
		if _, err := dec.Token(); err != nil {
			return 0, err
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}
