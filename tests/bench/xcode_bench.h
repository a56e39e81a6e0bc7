/* xcode-bench's seam to rtpengine (tests/bench/xcode_rtpe.c): the bench
 * drives the same calls through Tandem's bridge in-process, or through a
 * running rtpengine's ng port when XB_NG_PORT and XB_RTPE_PID are set. */
#ifndef TND_XCODE_BENCH_H
#define TND_XCODE_BENCH_H

#include <stdint.h>

/* 0 or -1. */
int tnd_xb_ng_open(uint16_t port);
/* Call i: phone A (PCMU) at a_port, phone B (Opus) at b_port. Gives the
 * ports each phone sends to and the Opus payload type rtpengine chose.
 * 0 or -1 (the reason on stderr). */
int tnd_xb_ng_call(unsigned i, uint16_t a_port, uint16_t b_port, uint16_t *to_a,
		   uint16_t *to_b, uint8_t *opus_pt);
void tnd_xb_ng_delete(unsigned i);
/* User + system CPU of process pid so far, ns; -1 if unreadable. */
int64_t tnd_xb_pid_cpu_ns(int pid);

#endif
