// Package conntrack is the per-worker connection tracker: Linux netfilter
// conntrack semantics (nf_conntrack_core.c and the TCP, UDP, ICMP, ICMPv6
// and generic protocol trackers) over the worker's flow tables.
//
// A Tracker owns two flowtable.Tables, one keyed by flowtable.Key4 and one by
// flowtable.Key6, whose values are Conn: a 40-byte, pointer-free record that
// holds the TCP window-tracking state (or the UDP/ICMP creation time) and the
// pipeline's verdict cache, so that an IPv4 entry (16-byte key, expiry,
// flags, Conn) is one 64-byte cache line. Conntrack status bits that Linux
// keeps in ct->status live in the entry's Flags byte: the table's own
// FlagAssured and FlagClosing (which early drop reads) and the tracker's
// FlagSeenReply, FlagExpected and FlagHelper.
//
// Track classifies one packet: it looks the packet's connection up (an ICMP
// error through the header it quotes), runs the protocol tracker, and on a
// miss asks the expectation table (RELATED) or creates the entry at once
// (NEW; a full table drops early, as Linux, or answers INVALID table_full).
// The pipeline then runs its ruleset and calls Confirm for accepted packets
// (which runs an attached ALG helper on ESTABLISHED packets) or Discard for
// dropped NEW packets (which removes the entry Track created, as Linux never
// confirms it).
//
// The protocol trackers are small and table-driven: tcpTransitions is the
// kernel's TCP state table as data, and each INVALID or IGNORE rule of
// nf_conntrack_proto_tcp.c is a named branch with a drop reason. Time is the
// worker's wrapping millisecond clock, injected on every call. Nothing on the
// per-packet path allocates.
//
// Deliberate deviations from the kernel, all forced by the 40-byte Conn or
// by the flow table's canonical keys:
//   - td_maxack is kept as a 16-bit distance below the peer's td_end; with
//     more than 64 KiB unacknowledged it reads as td_end-65535, which only
//     matters for the RST sequence check.
//   - last_end and a challenge ACK's last_ack are compared through
//     fingerprints (16 and 32 bits), and the retransmission count through
//     an 8-bit fingerprint of (dir, seq, ack, end, window); a false match
//     needs a collision (three in a row for the RETRANS cap).
//   - The window of a SYN ignored outside SYN_SENT waits for its SYN/ACK
//     in that direction's td_maxack slot, whose MAXACK flag is cleared
//     until the direction's next ACK.
//   - ICMP queries are keyed by addresses and id, not also by type: an
//     echo request in the reply direction joins the existing flow where
//     Linux would start another one.
//   - SCTP, DCCP and UDP-Lite are tracked as generic protocols (no ports).
//   - TCP flag and first-packet checks run before an entry is allocated,
//     so a full table answers INVALID with the TCP reason for junk
//     rather than table_full.
//   - Conn has one verdict-cache word for both directions.
package conntrack
