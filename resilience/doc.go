// Package resilience keeps a device orderly and useful when its network or
// power fails: a reconnect policy with start-up spread and full jitter that
// honours a service's busy signals, a supervisor that tracks each associated
// service online or offline, and a durable outbox that holds outgoing
// messages across outages and power loss.
package resilience
