// Package flowtable is the per-core connection table: a fixed-capacity hash
// table of pointer-free entries laid out in one preallocated arena (hugepage
// memory when available), owned by a single worker goroutine.
//
// Layout. The arena holds three regions, each 64-byte aligned:
//
//	index    nb buckets of 64 bytes: 10 slots of (16-bit tag, 32-bit ref) + an overflow count
//	entries  Capacity entries at a fixed stride (64 bytes for an IPv4 TCP entry)
//	live     one bit per entry (used by Sweep and Range to skip free entries)
//
// Entries never move while alive, so a Ref (1-based entry index) and an
// *Entry pointer stay valid until Delete. The index is bucketized linear
// probing: a key lives in its home bucket (fastrange of the hash) or in one
// of the next MaxProbe-1 buckets. Each bucket counts the keys that probed past
// it (F14's outbound overflow count), so a lookup stops at the first bucket
// whose count is zero: a miss usually reads one cache line, a hit one index
// line plus the entry's line. The index is sized for LoadFactor 0.5 (5 keys
// per 10-slot bucket) when every entry is in use, so the entry array is
// usable to 100% of Capacity while the index stays half empty. Measured with
// 1M random keys at full capacity: 99.5% of hits read one bucket, a miss reads
// 1.015 buckets on average, the longest probe is 5 buckets; no probe is ever
// longer than MaxProbe (8). Bucketized linear probing needs that headroom:
// at 0.7 load the longest probe of 1M keys already exceeds 8 buckets.
// Memory: 64 bytes per IPv4 entry + 12.8 of index + 1/8 of live bit, i.e.
// 77 bytes per flow, 1.74M flows in 128 MiB.
//
// The key hash (Key4.Hash, Key6.Hash) is public and unseeded; the table
// remixes it with a per-table random seed (Config.Seed) before picking a
// bucket and a tag, so bucket collisions cannot be precomputed.
//
// When the table is full (or, very rarely, the probe window is), Insert drops
// early as Linux does: it scans up to EvictionScan entries of the new key's
// probe window and evicts the first that is expired, not ASSURED, or CLOSING.
//
// Nothing here locks, uses atomics or allocates after New; every method must
// be called from the owning goroutine only.
package flowtable
