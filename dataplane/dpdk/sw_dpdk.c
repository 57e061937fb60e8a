//go:build linux && cgo && !nodpdk

// sw_dpdk.c implements the C layer declared in sw_dpdk.h.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <rte_eth_ring.h>

#include "sw_dpdk.h"

// sw_eal_init runs rte_eal_init and gives the calling thread its CPU
// affinity back: EAL pins the calling thread to the main lcore, and a Go
// thread must not stay pinned (threads it creates would inherit the mask).
int sw_eal_init(int argc, char **argv) {
	cpu_set_t saved;
	int have = pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) == 0;
	int ret = rte_eal_init(argc, argv);
	int err = rte_errno;
	if (have)
		pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
	if (ret < 0)
		return err > 0 ? -err : -EINVAL;
	return ret;
}

int sw_errno(void) { return rte_errno; }

int sw_pin_thread(int cpu) {
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

unsigned sw_lcore_id(void) { return rte_lcore_id(); }

struct rte_mempool *sw_pool_create(const char *name, unsigned n, unsigned cache, uint16_t data_room, int socket) {
	return rte_pktmbuf_pool_create(name, n, cache, 0, data_room, socket);
}

// sw_port_by_devargs finds the ethdev called name, probing devargs first
// when no such port exists yet. *probed says whether this call probed it.
int sw_port_by_devargs(const char *devargs, const char *name, uint16_t *port, int *probed) {
	*probed = 0;
	if (rte_eth_dev_get_port_by_name(name, port) == 0)
		return 0;
	int ret = rte_dev_probe(devargs);
	if (ret < 0 && ret != -EEXIST)
		return ret;
	*probed = ret == 0;
	if (rte_eth_dev_get_port_by_name(name, port) != 0)
		return -ENODEV;
	return 0;
}

// sw_port_remove releases the port. A virtual device is removed (its
// driver closes the port), so that a vdev of the same name can be created
// again; other devices (PCI) are closed and stay attached.
int sw_port_remove(uint16_t port) {
	struct rte_eth_dev_info info;
	int ret = rte_eth_dev_info_get(port, &info);
	if (ret != 0)
		return ret;
	struct rte_device *dev = info.device;
	if (dev != NULL && rte_dev_bus(dev) != NULL && strcmp(rte_bus_name(rte_dev_bus(dev)), "vdev") == 0) {
		rte_eth_dev_stop(port);
		if (rte_dev_remove(dev) == 0)
			return 0;
	}
	return rte_eth_dev_close(port);
}

int sw_dev_info(uint16_t port, struct sw_dev_info *out) {
	struct rte_eth_dev_info info;
	int ret = rte_eth_dev_info_get(port, &info);
	if (ret != 0)
		return ret;
	memset(out, 0, sizeof(*out));
	if (info.driver_name != NULL)
		strncpy(out->driver, info.driver_name, sizeof(out->driver) - 1);
	rte_eth_dev_get_name_by_port(port, out->name);
	out->max_rxq = info.max_rx_queues;
	out->max_txq = info.max_tx_queues;
	out->reta_size = info.reta_size;
	out->key_size = info.hash_key_size;
	out->rss_offloads = info.flow_type_rss_offloads;
	out->rx_offload_capa = info.rx_offload_capa;
	out->tx_offload_capa = info.tx_offload_capa;
	out->max_rx_pktlen = info.max_rx_pktlen;
	out->min_mtu = info.min_mtu;
	out->max_mtu = info.max_mtu;
	out->socket = rte_eth_dev_socket_id(port);
	return 0;
}

int sw_port_configure(uint16_t port, const struct sw_port_conf *c, struct rte_mempool *pool, int socket, int *step, int *queue) {
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	uint8_t key[64];
	*step = 0;
	*queue = 0;
	if (c->rss) {
		memcpy(key, c->key, sizeof(key));
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = key;
		conf.rx_adv_conf.rss_conf.rss_key_len = c->key_len;
		conf.rx_adv_conf.rss_conf.rss_hf = c->rss_hf;
	}
	conf.rxmode.offloads = c->rx_offloads;
	int ret = rte_eth_dev_configure(port, c->nb_rxq, c->nb_txq, &conf);
	if (ret != 0)
		return ret;
	if (c->mtu != 0) {
		*step = 1;
		ret = rte_eth_dev_set_mtu(port, c->mtu);
		if (ret != 0)
			return ret;
	}
	*step = 2;
	uint16_t nb_rxd = c->nb_rxd, nb_txd = c->nb_txd;
	ret = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
	if (ret != 0)
		return ret;
	*step = 3;
	for (uint16_t q = 0; q < c->nb_rxq; q++) {
		*queue = q;
		ret = rte_eth_rx_queue_setup(port, q, nb_rxd, socket, NULL, pool);
		if (ret != 0)
			return ret;
	}
	*step = 4;
	for (uint16_t q = 0; q < c->nb_txq; q++) {
		*queue = q;
		ret = rte_eth_tx_queue_setup(port, q, nb_txd, socket, NULL);
		if (ret != 0)
			return ret;
	}
	return 0;
}

// sw_port_set_reta spreads the redirection table round-robin over the
// receive queues.
int sw_port_set_reta(uint16_t port, uint16_t nb_rxq, uint16_t reta_size) {
	if (reta_size == 0 || nb_rxq == 0)
		return 0;
	uint16_t groups = (reta_size + RTE_ETH_RETA_GROUP_SIZE - 1) / RTE_ETH_RETA_GROUP_SIZE;
	struct rte_eth_rss_reta_entry64 *conf = calloc(groups, sizeof(*conf));
	if (conf == NULL)
		return -ENOMEM;
	for (uint16_t i = 0; i < reta_size; i++) {
		uint16_t g = i / RTE_ETH_RETA_GROUP_SIZE, s = i % RTE_ETH_RETA_GROUP_SIZE;
		conf[g].mask |= 1ULL << s;
		conf[g].reta[s] = i % nb_rxq;
	}
	int ret = rte_eth_dev_rss_reta_update(port, conf, reta_size);
	free(conf);
	return ret;
}

// sw_rss_key_set applies the RSS key and hash functions to a running port
// (drivers that ignore them in rte_eth_dev_configure).
int sw_rss_key_set(uint16_t port, const uint8_t *key, uint8_t key_len, uint64_t hf) {
	uint8_t k[64];
	memcpy(k, key, key_len > sizeof(k) ? sizeof(k) : key_len);
	struct rte_eth_rss_conf conf = {.rss_key = k, .rss_key_len = key_len, .rss_hf = hf};
	return rte_eth_dev_rss_hash_update(port, &conf);
}

// sw_rss_key_get reads the RSS key (into key[64]) and hash functions.
int sw_rss_key_get(uint16_t port, uint8_t *key, uint8_t *key_len, uint64_t *hf) {
	struct rte_eth_rss_conf conf;
	memset(&conf, 0, sizeof(conf));
	conf.rss_key = key;
	conf.rss_key_len = *key_len;
	int ret = rte_eth_dev_rss_hash_conf_get(port, &conf);
	if (ret != 0)
		return ret;
	*key_len = conf.rss_key_len;
	*hf = conf.rss_hf;
	return 0;
}

// sw_reta_get reads the redirection table into out[reta_size].
int sw_reta_get(uint16_t port, uint16_t *out, uint16_t reta_size) {
	uint16_t groups = (reta_size + RTE_ETH_RETA_GROUP_SIZE - 1) / RTE_ETH_RETA_GROUP_SIZE;
	struct rte_eth_rss_reta_entry64 *conf = calloc(groups, sizeof(*conf));
	if (conf == NULL)
		return -ENOMEM;
	for (uint16_t g = 0; g < groups; g++)
		conf[g].mask = ~0ULL;
	int ret = rte_eth_dev_rss_reta_query(port, conf, reta_size);
	if (ret == 0)
		for (uint16_t i = 0; i < reta_size; i++)
			out[i] = conf[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE];
	free(conf);
	return ret;
}

int sw_link_get(uint16_t port, struct sw_link *out) {
	struct rte_eth_link link;
	memset(&link, 0, sizeof(link));
	int ret = rte_eth_link_get_nowait(port, &link);
	if (ret != 0)
		return ret;
	out->speed = link.link_speed;
	out->up = link.link_status == RTE_ETH_LINK_UP;
	out->full_duplex = link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
	out->autoneg = link.link_autoneg == RTE_ETH_LINK_AUTONEG;
	return 0;
}

struct sw_queue *sw_queue_new(uint16_t port, uint16_t queue, uint16_t cap, int socket) {
	(void)socket;
	struct sw_queue *q = NULL;
	if (posix_memalign((void **)&q, RTE_CACHE_LINE_SIZE, sizeof(*q)) != 0)
		return NULL;
	memset(q, 0, sizeof(*q));
	q->port = port;
	q->queue = queue;
	q->cap = cap;
	size_t mb = sizeof(struct rte_mbuf *) * cap;
	size_t fb = sizeof(struct sw_frame) * cap;
	if (posix_memalign((void **)&q->rx_mbufs, RTE_CACHE_LINE_SIZE, mb) != 0 ||
	    posix_memalign((void **)&q->tx_mbufs, RTE_CACHE_LINE_SIZE, mb) != 0 ||
	    posix_memalign((void **)&q->frames, RTE_CACHE_LINE_SIZE, fb) != 0) {
		sw_queue_free(q);
		return NULL;
	}
	memset(q->rx_mbufs, 0, mb);
	memset(q->tx_mbufs, 0, mb);
	memset(q->frames, 0, fb);
	return q;
}

void sw_queue_free(struct sw_queue *q) {
	if (q == NULL)
		return;
	free(q->rx_mbufs);
	free(q->tx_mbufs);
	free(q->frames);
	free(q);
}

// sw_verified says which of m's checksums the NIC found correct
// (SW_VERIFIED_*). The RX offload flags of a tunnel packet the NIC parsed
// are its inner headers', not the ones conntrack reads: none counts.
static inline uint8_t sw_verified(const struct rte_mbuf *m) {
	uint64_t f = m->ol_flags;
	if (unlikely((m->packet_type & RTE_PTYPE_TUNNEL_MASK) != 0))
		return 0;
	return ((f & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD ? SW_VERIFIED_IPV4 : 0) |
	       ((f & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD ? SW_VERIFIED_L4 : 0);
}

// sw_fill_frames turns n received mbufs into frames, freeing (and
// counting) multi-segment ones. It returns the number of frames. With
// cksum (a constant where it is inlined) it reads which checksums the NIC
// verified; without, the frames say none.
static inline uint16_t sw_fill_frames(struct rte_mbuf **mbufs, uint16_t n, struct sw_frame *frames, uint64_t *multiseg, int cksum) {
	uint16_t out = 0;
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = mbufs[i];
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(mbufs[i + 1], void *));
		if (unlikely(m->nb_segs != 1)) {
			rte_pktmbuf_free(m);
			(*multiseg)++;
			continue;
		}
		frames[out].data = rte_pktmbuf_mtod(m, void *);
		frames[out].len = m->data_len;
		frames[out].cap = m->data_len;
		frames[out].mbuf = (uintptr_t)m;
		frames[out].timestamp = 0;
		frames[out].verified = cksum ? sw_verified(m) : 0;
		out++;
	}
	return out;
}

uint16_t sw_rx_burst(uintptr_t qh, uint16_t n) {
	struct sw_queue *q = (struct sw_queue *)qh;
	if (n > q->cap)
		n = q->cap;
	uint16_t got = rte_eth_rx_burst(q->port, q->queue, q->rx_mbufs, n);
	if (got == 0)
		return 0;
	if (q->rx_cksum)
		return sw_fill_frames(q->rx_mbufs, got, q->frames, &q->rx_multiseg, 1);
	return sw_fill_frames(q->rx_mbufs, got, q->frames, &q->rx_multiseg, 0);
}

uint16_t sw_tx_burst(uintptr_t qh, uint16_t n) {
	struct sw_queue *q = (struct sw_queue *)qh;
	if (n > q->cap)
		n = q->cap;
	return rte_eth_tx_burst(q->port, q->queue, q->tx_mbufs, n);
}

void sw_free_bulk(uintptr_t *mbufs, unsigned n) {
	rte_pktmbuf_free_bulk((struct rte_mbuf **)mbufs, n);
}

struct sw_ring *sw_ring_new(const char *name, unsigned size, uint16_t cap, int socket) {
	struct sw_ring *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->cap = cap;
	r->enq = calloc(cap, sizeof(void *));
	r->deq = calloc(cap, sizeof(void *));
	r->frames = calloc(cap, sizeof(struct sw_frame));
	if (r->enq == NULL || r->deq == NULL || r->frames == NULL) {
		sw_ring_free(r);
		rte_errno = ENOMEM;
		return NULL;
	}
	r->ring = rte_ring_create(name, size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (r->ring == NULL) {
		int err = rte_errno;
		sw_ring_free(r);
		rte_errno = err;
		return NULL;
	}
	return r;
}

void sw_ring_free(struct sw_ring *r) {
	if (r == NULL)
		return;
	if (r->ring != NULL) {
		void *m;
		while (rte_ring_dequeue(r->ring, &m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(r->ring);
	}
	free(r->enq);
	free(r->deq);
	free(r->frames);
	free(r);
}

unsigned sw_ring_enqueue(struct sw_ring *r, unsigned n) {
	if (n > r->cap)
		n = r->cap;
	return rte_ring_sp_enqueue_burst(r->ring, r->enq, n, NULL);
}

unsigned sw_ring_dequeue(struct sw_ring *r, unsigned n) {
	if (n > r->cap)
		n = r->cap;
	unsigned got = rte_ring_sc_dequeue_burst(r->ring, r->deq, n, NULL);
	uint64_t multiseg = 0; // rings carry what RX accepted: single segments
	return sw_fill_frames((struct rte_mbuf **)r->deq, got, r->frames, &multiseg, 1);
}

unsigned sw_ring_count(struct sw_ring *r) { return rte_ring_count(r->ring); }

// sw_mbuf_from allocates an mbuf from pool and copies len bytes into it.
uintptr_t sw_mbuf_from(struct rte_mempool *pool, const uint8_t *data, uint16_t len, struct sw_frame *out) {
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	if (m == NULL)
		return 0;
	char *p = rte_pktmbuf_append(m, len);
	if (p == NULL) {
		rte_pktmbuf_free(m);
		return 0;
	}
	memcpy(p, data, len);
	out->data = p;
	out->len = len;
	out->cap = len;
	out->mbuf = (uintptr_t)m;
	out->timestamp = 0;
	out->verified = 0;
	return (uintptr_t)m;
}

void sw_mbuf_set_rx_cksum(uintptr_t mh, int ip, int l4, int tunnel) {
	struct rte_mbuf *m = (struct rte_mbuf *)mh;
	m->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK);
	m->ol_flags |= ip > 0 ? RTE_MBUF_F_RX_IP_CKSUM_GOOD : ip < 0 ? RTE_MBUF_F_RX_IP_CKSUM_BAD : RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN;
	m->ol_flags |= l4 > 0 ? RTE_MBUF_F_RX_L4_CKSUM_GOOD : l4 < 0 ? RTE_MBUF_F_RX_L4_CKSUM_BAD : RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN;
	m->packet_type = tunnel ? (RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_TUNNEL_VXLAN) : 0;
}

// sw_ring_port_pair creates two net_ring ethdevs joined back to back: what
// one transmits the other receives. *ab and *ba get the two rings.
int sw_ring_port_pair(const char *a, const char *b, unsigned size, int socket, struct rte_ring **ab, struct rte_ring **ba) {
	char n1[RTE_RING_NAMESIZE], n2[RTE_RING_NAMESIZE];
	snprintf(n1, sizeof(n1), "%.14s>%.14s", a, b);
	snprintf(n2, sizeof(n2), "%.14s>%.14s", b, a);
	*ab = rte_ring_create(n1, size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (*ab == NULL)
		return -rte_errno;
	*ba = rte_ring_create(n2, size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (*ba == NULL) {
		int err = rte_errno;
		rte_ring_free(*ab);
		return -err;
	}
	if (rte_eth_from_rings(a, ba, 1, ab, 1, socket < 0 ? 0 : socket) < 0 ||
	    rte_eth_from_rings(b, ab, 1, ba, 1, socket < 0 ? 0 : socket) < 0) {
		int err = rte_errno;
		uint16_t id;
		if (rte_eth_dev_get_port_by_name(a, &id) == 0)
			rte_eth_dev_close(id);
		rte_ring_free(*ab);
		rte_ring_free(*ba);
		return err > 0 ? -err : -EINVAL;
	}
	return 0;
}
