// Package configtest holds configuration text that tests across the
// module share: the stateful core of every ruleset they build on.
package configtest

// Ports is a bump-in-the-wire pair of ports, "lan" (role inside, index
// 0) and "wan" (role outside, index 1), on DPDK null devices.
const Ports = `
[[port]]
name = "lan"
device = "net_null0"
role = "inside"
peer = "wan"

[[port]]
name = "wan"
device = "net_null1"
role = "outside"
peer = "lan"
`

// Stateful is the heart of a stateful ruleset, as the seed ruleset has it:
// a dropping policy, then ESTABLISHED and RELATED accepted and INVALID
// dropped. Tests append the NEW rules they need (TOML lets later [[rule]]
// entries and other tables follow).
const Stateful = `
[policy]
forward = "drop"

[[rule]]
name = "established"
ct_state = ["ESTABLISHED", "RELATED"]
action = "accept"

[[rule]]
name = "invalid"
ct_state = "INVALID"
action = "drop"
`
