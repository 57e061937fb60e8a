// Package control is the daemon's local control API and its Go client:
// HTTP/JSON over a unix socket that only the socket's owner (root by
// default) may use. It serves status (ports, workers, rates from two
// snapshots, table fill), connection listing with filters streamed in
// chunks, flushing, counting, rules with their counters, and reload. The
// engine is reached through small interfaces (metrics.Source, Conntrack,
// Reloader) so the package builds and tests without a dataplane, and the
// CLI links only the client side without cgo.
package control
