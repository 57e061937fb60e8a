//go:build linux && cgo && !nodpdk

// sw_dpdk.h declares the small C layer the Go package calls: wrappers for
// DPDK's static inline fast-path functions (one call per burst) and for
// control-path structs whose bitfields and unions cgo cannot read.
#ifndef SW_DPDK_H
#define SW_DPDK_H

#include <stddef.h>
#include <stdint.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

// sw_frame is what a receive burst hands to Go for one mbuf: the data,
// read in place, and the mbuf itself. It is laid out as Go's port.Frame
// (the data as a Go slice header, cgo's GoSlice; the mbuf as the handle;
// a zero timestamp; the checksums the NIC verified), so that Go takes a
// burst's frames with one copy (frame.go checks the layout when it
// compiles).
struct sw_frame {
	void *data;
	ptrdiff_t len;
	ptrdiff_t cap;
	uintptr_t mbuf;
	int64_t timestamp;
	uint8_t verified; // SW_VERIFIED_* (port.Verified)
	uint8_t pad[7];
};

// The checksums a NIC found correct (port.VerifiedIPv4, port.VerifiedL4).
#define SW_VERIFIED_IPV4 1
#define SW_VERIFIED_L4 2

// sw_queue is one RX/TX queue pair of a port with its preallocated burst
// arrays (C memory, so the Go side allocates nothing per burst). Only the
// worker that owns the queue touches it.
struct sw_queue {
	uint16_t port;
	uint16_t queue;
	uint16_t cap;
	uint16_t rx_cksum;    // the port verifies checksums: read the mbufs' RX flags
	uint64_t rx_multiseg; // multi-segment frames freed on receive
	struct rte_mbuf **rx_mbufs;
	struct rte_mbuf **tx_mbufs;
	struct sw_frame *frames;
};

// sw_ring is a single-producer single-consumer ring of mbuf pointers with
// one burst array for the producer and one for the consumer.
struct sw_ring {
	struct rte_ring *ring;
	uint16_t cap;
	uint16_t pad[3];
	void **enq;
	void **deq;
	struct sw_frame *frames;
};

// sw_port_conf carries the port configuration from Go.
struct sw_port_conf {
	uint16_t nb_rxq;
	uint16_t nb_txq;
	uint16_t nb_rxd;
	uint16_t nb_txd;
	int rss;          // enable RSS with the key and hash functions below
	uint64_t rss_hf;
	uint8_t key[64];
	uint8_t key_len;
	uint32_t mtu;     // 0 = leave the device default
	uint64_t rx_offloads; // RTE_ETH_RX_OFFLOAD_* to enable (the device has them)
};

// sw_dev_info is the part of rte_eth_dev_info the Go side reports.
struct sw_dev_info {
	char driver[64];
	char name[64];
	uint16_t max_rxq;
	uint16_t max_txq;
	uint16_t reta_size;
	uint8_t key_size;
	uint64_t rss_offloads;
	uint64_t rx_offload_capa;
	uint64_t tx_offload_capa;
	uint32_t max_rx_pktlen;
	uint16_t min_mtu;
	uint16_t max_mtu;
	int socket;
};

// sw_link is rte_eth_link without bitfields.
struct sw_link {
	uint32_t speed;
	int up;
	int full_duplex;
	int autoneg;
};

int sw_eal_init(int argc, char **argv);
int sw_errno(void);
int sw_pin_thread(int cpu);
unsigned sw_lcore_id(void);

struct rte_mempool *sw_pool_create(const char *name, unsigned n, unsigned cache, uint16_t data_room, int socket);

int sw_port_by_devargs(const char *devargs, const char *name, uint16_t *port, int *probed);
int sw_port_remove(uint16_t port);
int sw_dev_info(uint16_t port, struct sw_dev_info *out);
// sw_port_configure returns a negative errno and sets *step to what failed:
// 0 configure, 1 MTU, 2 descriptor counts, 3 an RX queue, 4 a TX queue
// (*queue says which).
int sw_port_configure(uint16_t port, const struct sw_port_conf *c, struct rte_mempool *pool, int socket, int *step, int *queue);
int sw_port_set_reta(uint16_t port, uint16_t nb_rxq, uint16_t reta_size);
int sw_rss_key_set(uint16_t port, const uint8_t *key, uint8_t key_len, uint64_t hf);
int sw_rss_key_get(uint16_t port, uint8_t *key, uint8_t *key_len, uint64_t *hf);
int sw_reta_get(uint16_t port, uint16_t *out, uint16_t reta_size);
int sw_link_get(uint16_t port, struct sw_link *out);

struct sw_queue *sw_queue_new(uint16_t port, uint16_t queue, uint16_t cap, int socket);
void sw_queue_free(struct sw_queue *q);
/* The queue is passed as an integer: a pointer argument costs every
 * burst a cgo pointer check, and the queue is C memory anyway. */
uint16_t sw_rx_burst(uintptr_t q, uint16_t n);
uint16_t sw_tx_burst(uintptr_t q, uint16_t n);
void sw_free_bulk(uintptr_t *mbufs, unsigned n);

struct sw_ring *sw_ring_new(const char *name, unsigned size, uint16_t cap, int socket);
void sw_ring_free(struct sw_ring *r);
unsigned sw_ring_enqueue(struct sw_ring *r, unsigned n);
unsigned sw_ring_dequeue(struct sw_ring *r, unsigned n);
unsigned sw_ring_count(struct sw_ring *r);

// sw_mbuf_set_rx_cksum marks an mbuf's IPv4 and L4 checksums as a NIC's
// RX offload does (1 good, -1 bad, 0 unknown), and its packet type as a
// tunnel's when tunnel is set (tests of the receive path).
void sw_mbuf_set_rx_cksum(uintptr_t m, int ip, int l4, int tunnel);
uintptr_t sw_mbuf_from(struct rte_mempool *pool, const uint8_t *data, uint16_t len, struct sw_frame *out);

int sw_ring_port_pair(const char *a, const char *b, unsigned size, int socket, struct rte_ring **ab, struct rte_ring **ba);

#endif
