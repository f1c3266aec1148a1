// Package erase is the device's factory reset: it erases every store of
// user data the device registers — crypto erase first, then deletion —
// verifies each store empty, asks associated services to delete what they
// hold, and gives the user a signed receipt. Every step is journaled with
// the durable package, so a reset cut by power loss finishes at the next
// start instead of half-finishing.
package erase
