package erase

import (
	"fmt"
	"strings"
)

// HowTo sets the sentence the instructions give on how to start a reset on
// this device ("Hold the button for 10 seconds until the light flashes
// red."); without it the instructions do not say.
func (r *Registry) HowTo(text string) *Registry {
	r.howTo = text
	return r
}

// Instructions renders, from the registry, the text a user reads before a
// factory reset (5.11-3): what the reset deletes and how, what it keeps and
// why, and what happens at associated services. The device shows it in its
// manual, app or web UI next to the reset button.
func (r *Registry) Instructions() string {
	var b strings.Builder
	b.WriteString("Factory reset: what it does\n\n")
	b.WriteString("A factory reset returns the device to the state it left the factory in. It deletes:\n")
	for _, e := range r.entries {
		how := "deleted"
		switch methodOf(e.Eraser) {
		case CryptoErase:
			how = "made unreadable by destroying its encryption keys, then deleted"
		case Overwrite:
			how = "overwritten, then deleted"
		}
		fmt.Fprintf(&b, "  - %s (%s)\n", e.Category.Words(), how)
	}
	b.WriteString("\nIt keeps:\n")
	for _, k := range r.kept {
		fmt.Fprintf(&b, "  - %s: %s\n", k.What, k.Why)
	}
	if len(r.services) > 0 {
		b.WriteString("\nOnline services: the device sends each one a deletion request as part of the reset,\n")
		b.WriteString("and the confirmation shows when each service has confirmed:\n")
		for _, s := range r.services {
			holds := s.Holds
			if holds == "" {
				holds = "data about you and this device"
			}
			fmt.Fprintf(&b, "  - %s: %s\n", s.Name, holds)
		}
		b.WriteString("If the device is offline, the requests are kept and sent when it reconnects.\n")
	}
	b.WriteString("\n")
	if r.howTo != "" {
		b.WriteString(r.howTo + "\n")
	}
	b.WriteString("If power is lost during the reset,\n")
	b.WriteString("the device finishes it when it starts again, before doing anything else. Afterwards it must\n")
	b.WriteString("be set up again like a new device.\n")
	return b.String()
}
