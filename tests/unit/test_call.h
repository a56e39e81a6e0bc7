/* What test_call.c and test_call_pc.c share: the browser's WebRTC peer for
 * the call tests, a real tnd_pc on a loop and thread of its own. Every
 * function runs on the test thread (the signalling loop), which keeps
 * turning the default main context while it waits for the browser's loop. */
#ifndef TND_TESTS_TEST_CALL_H
#define TND_TESTS_TEST_CALL_H

#include <stdbool.h>
#include <stddef.h>

#define TND_TEST_CALL_WAIT_MS 5000

/* Starts the loop, makes the pc (ICE controlling, as the offerer) and
 * waits until it gathered. 0 or 1. */
int tnd_test_browser_up(void);
/* Detaches and frees the pc on its loop, then joins the loop. Safe when
 * not up. */
void tnd_test_browser_down(void);
/* The browser's offer: PCMU and telephone-event, its ICE values, its
 * candidates, the process's certificate (every pc in this process shares
 * it). */
void tnd_test_browser_offer(char *buf, size_t len);
/* The gateway's answer and the candidates it trickled ("a=candidate:..."
 * lines): remote ICE values, DTLS role from the answer's setup, every
 * candidate, then end-of-candidates. */
bool tnd_test_browser_remote(const char *answer, const char *cands);
bool tnd_test_browser_wait_connected(int ms);
/* n PCMU packets from the browser, SRTP-protected by its pc. */
bool tnd_test_browser_send(int n);
/* RTP packets the browser's pc decrypted, and how many were not PCMU. */
int tnd_test_browser_rtp(int *not_pcmu);

#endif
