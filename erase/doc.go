// Package erase is the device's factory reset: it erases every store of
// user data the device registers — crypto erase first, then deletion —
// verifies each store empty, asks associated services to delete what they
// hold, and gives the user a signed receipt. Every step is journaled with
// the durable package, so a reset cut by power loss finishes at the next
// start instead of half-finishing.
//
// Start with NewRegistry: add each store as an [Eraser] (a name and an
// Erase that can be called again after power loss) with the category of
// data it holds — [Crypto] adapts the sealed secrets store, [DirStore] any
// directory — then [Open] a [Resetter] on a journal outside those stores. At every start call [Resetter.Resume]
// before anything else opens the stores; the reset button calls
// [Resetter.Reset].
//
// # Provisions
//
//   - 5.11-1 (user data can be erased simply): [Resetter.Reset] — one call,
//     journaled, resumed by [Resetter.Resume] after power loss; the order is
//     crypto erase (keys destroyed before anything else), then delete or
//     overwrite, then verify each store ([Verifier]); refused while the
//     device's [Busy] hook reports an update installing, and while another
//     reset runs. Self-check "erase.factory-reset" ([Resetter.Checks],
//     measured): every store has an eraser and a verifier, no reset is left
//     pending, and a scratch [DirStore] is erased and verified empty on the
//     device's file system.
//   - 5.11-2 (personal data removed from associated services): a deletion
//     request with a request ID per registered [Service], sent through an
//     [Outbox] (resilience.Outbox, adapted in main) after the local erase;
//     [Resetter.UpdateService] records pending → in-progress →
//     completed/failed and the service's confirmation.
//   - 5.11-3 (users get clear instructions): [Registry.Instructions] —
//     what is deleted and how, what is kept (the firmware and its trust
//     root) and why, what happens at services.
//   - 5.11-4 (users get clear confirmation): [Receipt] — JSON with the
//     receipt ID, each store's method and verification, each service's
//     status and the times, no personal data; [Sign] with any crypto.Signer
//     (the device identity), [VerifyReceipt] for whoever checks it, and
//     [Receipt.Confirmation] for the user.
//
// # Quick start
//
//	reg := erase.NewRegistry().
//		Add(erase.Crypto("secrets", sealed), erase.Secrets). // *secrets.Sealed
//		Add(&erase.DirStore{StoreName: "wifi", Dir: "/data/wifi"}, erase.WiFi).
//		Add(&erase.DirStore{StoreName: "logs", Dir: "/data/logs"}, erase.Logs).
//		AddService(erase.Service{Name: "cloud", Holds: "your usage history"})
//	reset, err := erase.Open(ctx, erase.Config{
//		Journal:  "/persist/erase.journal", // outside every registered store
//		Registry: reg,
//		Busy:     updateBusy,               // a Busy: true while an update installs
//		Outbox:   outboxAdapter,            // see Outbox
//	})
//	if err != nil { ... }
//	if _, err := reset.Resume(ctx); err != nil { ... } // before anything else
//	...
//	rc, err := reset.Reset(ctx)            // the reset button
//	signed, err := erase.Sign(rc, identity) // kept for the user, or shown
//	fmt.Print(rc.Confirmation())
//
// # Security considerations
//
//   - Crypto erase is a purge (NIST SP 800-88) only if the data was always
//     encrypted and every copy of the key is gone. With the soft KEK the
//     seed is overwritten and removed, but wear-levelled flash may keep old
//     blocks; the hardware backends destroy the key in the TPM or token.
//   - Delete and overwrite are clears: flash may keep old blocks until they
//     are reused. Keep user data in the sealed store where it matters.
//   - The journal and the receipt hold store and service names, categories,
//     counts, times and random IDs, never user data; errors name no file.
//   - A store that a restart recreates between its erase and the journal
//     record (the sealed store makes a fresh keyset when it opens) is found
//     not empty by its verifier and erased once more in the same call.
//   - After the reset the device should restart: each package then finds
//     its store empty and the device is back in its unprovisioned state.
//   - Register a sealed store with [Crypto] only if it holds nothing the
//     reset must keep: Crypto destroys its KEK, and with a hardware backend
//     the device identity key too. A store that also holds the device
//     identity or the verifier of the label's setup secret needs an Eraser
//     of its own that deletes the user's entries and then rotates the
//     store's data key (secrets.Sealed.Rotate), as examples/smartplug does.
package erase
