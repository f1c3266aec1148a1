package update_test

import (
	"context"
	"fmt"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update"
)

// stubUpdater stands in for *update.Client, which a device passes instead.
type stubUpdater struct{ rel *update.Release }

func (u stubUpdater) Check(context.Context) (*update.Release, error) { return u.rel, nil }
func (u stubUpdater) Apply(context.Context, *update.Release) error {
	fmt.Println("installing")
	return nil
}

// A device starts one Scheduler at boot. Here the owner has switched
// automatic installation off, so the security release is announced but
// not installed.
func ExampleScheduler() {
	policy, err := update.OpenPolicyStore(update.PolicyConfig{
		FS:   durable.NewCrashFS(), // durable.OS on a device
		Path: "update-policy.json",
	})
	if err != nil {
		panic(err)
	}
	if _, err := policy.SetAutoInstall(false); err != nil { // the owner's choice (5.3-6)
		panic(err)
	}
	// Events arrive on a channel; the Scheduler never waits for the UI.
	events := make(chan update.Event, 8)
	s, err := update.NewScheduler(update.SchedulerConfig{
		Updater: stubUpdater{&update.Release{Path: "fw-2.bin", Descriptor: &update.Descriptor{
			ReleaseCounter: 2, Version: "2.0.1", Security: true, Risks: []string{"remote code execution"}}}},
		Policy:        policy,
		SafeToDisrupt: func(context.Context) bool { return true }, // e.g. "no one is cooking"
		Notify:        events,
	})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	for ev := range events { // the device's UI
		switch ev := ev.(type) {
		case update.SecurityUpdate:
			fmt.Println("security update", ev.Version, ev.Risks)
		case update.InstallDeferred:
			fmt.Println("not installed:", ev.Reason)
			cancel() // end the example; a device lets Run go on
		}
		if ctx.Err() != nil {
			break
		}
	}
	fmt.Println(<-done)
	// Output:
	// security update 2.0.1 [remote code execution]
	// not installed: auto-install off
	// context canceled
}
