/*
 * link-delay: the inter-DC link's one-way delay, in user space.
 *
 * This kernel has no netem (CONFIG_NET_SCH_NETEM is not set, nor fq), so `tc qdisc ... netem delay`
 * cannot be had. Instead the lab sends the packets that cross from one DC's bridge to the other's
 * into an NFQUEUE (iptables FORWARD), and this program holds each one for the delay before it
 * gives its verdict. Packets leave in the order they came (a link does not reorder): each one is
 * released at max(previous release, arrival + delay + jitter), with jitter uniform in [-j, +j].
 *
 *   link-delay <queue-num> <delay-us> <jitter-us>
 *
 * Only metadata is copied from the kernel (NFQNL_COPY_META): the payload never leaves it. Stops on
 * SIGTERM/SIGINT after accepting every packet it holds.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RING (1u << 16)

static uint32_t ids[RING];
static uint64_t release_at[RING];
static unsigned head, tail; /* held packets: [head, tail) */
static uint64_t delay_us, jitter_us, last_release;
static volatile sig_atomic_t stopping;
static unsigned long long passed, overflowed;

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
  (void)msg;
  (void)data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) return 0;
  uint32_t id = ntohl(ph->packet_id);
  if (tail - head >= RING) { /* never hold more than the ring: pass at once rather than drop */
    overflowed++;
    return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
  }
  int64_t j = 0;
  if (jitter_us > 0) j = (int64_t)(random() % (2 * jitter_us + 1)) - (int64_t)jitter_us;
  int64_t d = (int64_t)delay_us + j;
  uint64_t at = now_us() + (uint64_t)(d < 0 ? 0 : d);
  if (at < last_release) at = last_release;
  last_release = at;
  ids[tail % RING] = id;
  release_at[tail % RING] = at;
  tail++;
  return 0;
}

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: link-delay <queue-num> <delay-us> <jitter-us>\n");
    return 2;
  }
  int queue = atoi(argv[1]);
  delay_us = strtoull(argv[2], NULL, 10);
  jitter_us = strtoull(argv[3], NULL, 10);
  srandom((unsigned)now_us());
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);

  struct nfq_handle *h = nfq_open();
  if (!h) { perror("nfq_open"); return 1; }
  struct nfq_q_handle *qh = nfq_create_queue(h, (uint16_t)queue, &on_packet, NULL);
  if (!qh) { perror("nfq_create_queue"); return 1; }
  if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0) { perror("nfq_set_mode"); return 1; }
  nfq_set_queue_maxlen(qh, RING);
  int fd = nfq_fd(h);
  fprintf(stderr, "link-delay: queue %d, delay %llu us, jitter %llu us\n", queue, (unsigned long long)delay_us,
          (unsigned long long)jitter_us);

  char buf[4096] __attribute__((aligned));
  while (!stopping) {
    uint64_t now = now_us();
    while (head != tail && release_at[head % RING] <= now) {
      nfq_set_verdict(qh, ids[head % RING], NF_ACCEPT, 0, NULL);
      head++;
      passed++;
    }
    /* Sleep until the next release, to the microsecond (poll's milliseconds would add up to 1 ms). */
    uint64_t wait = head != tail ? release_at[head % RING] - now : 1000000u;
    struct timespec ts = {.tv_sec = (time_t)(wait / 1000000u), .tv_nsec = (long)(wait % 1000000u) * 1000};
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = ppoll(&p, 1, &ts, NULL);
    if (r < 0 && errno != EINTR) { perror("poll"); break; }
    if (r > 0) {
      for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) break;
        nfq_handle_packet(h, buf, (int)n);
      }
    }
  }
  while (head != tail) nfq_set_verdict(qh, ids[(head++) % RING], NF_ACCEPT, 0, NULL);
  fprintf(stderr, "link-delay: stopped after %llu packets (%llu passed at once, ring full)\n", passed, overflowed);
  nfq_destroy_queue(qh);
  nfq_close(h);
  return 0;
}
