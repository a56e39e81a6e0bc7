/* webrtc/ unit tests shared between test_webrtc.c (packet helpers, SRTP,
 * fingerprints; the table and main) and test_webrtc_pc.c (struct tnd_pc and
 * struct tnd_rtpsock over 127.0.0.1 on worker threads). */
#ifndef TND_TESTS_TEST_WEBRTC_H
#define TND_TESTS_TEST_WEBRTC_H

#include <stdbool.h>

#include <stdint.h>

#include <stun/stunagent.h>

#include "gateway/base/loop.h"

/* A step run on a worker: ctx is the test's, str an optional copy. */
typedef int (tnd_test_step_h)(void *ctx, const char *str);
/* Runs fn(ctx, NULL) on loop l (a worker on its thread) and returns its
 * result; -1 after 10 s. */
int tnd_test_run_on(struct tnd_loop *l, tnd_test_step_h *fn, void *ctx);
/* libnice's STUN validater callback: any username, the password in `data`
 * (a NUL-terminated string). */
bool tnd_test_stun_key(StunAgent *agent, StunMessage *msg, uint8_t *user, uint16_t user_len,
		       uint8_t **pwd, size_t *pwd_len, void *data);
/* Waits up to ms for tnd_obj_live() to come back to `live`. */
bool tnd_test_wait_live(long live, int ms);

int test_pc_dtls_srtp(void);
int test_pc_trickle_before_remote(void);
int test_pc_wrong_fingerprint(void);
int test_pc_api_errors(void);
int test_pc_garbage_before_dtls(void);
int test_pc_alloc_enomem(void);
int test_learn_spray_before_peer(void);
int test_learn_nat_port_change(void);
int test_learn_signal_ip(void);
int test_learn_alive_refuses(void);
int test_learn_strict(void);
int test_learn_same_sdp(void);
int test_learn_rtcp(void);
int test_rtpsock_no_hijack(void);
int test_rtpsock_pause_then_attacker(void);
int test_rtpsock_strict(void);
int test_rtpsock_nat_port_change(void);
int test_rtpsock_same_remote(void);
/* teardown, candidate limits, forged DTLS, cipher suites (review H3, M1,
 * L12, L2) */
int test_pc_detach_outlived_owner(void);
int test_pc_forged_hello(void);
int test_pc_candidate_limits(void);
int test_pc_deny_still_connects(void);
int test_dtls_suites(void);
int test_dtls_no_renegotiation(void);
int test_cand_prefix_parse(void);
int test_cand_prefix_match(void);
int test_cand_check(void);
int test_cand_allowed(void);
int test_rtpsock_garbage_and_rtcp(void);
int test_rtpsock_srtp_required(void);
int test_rtpsock_dscp(void);
int test_srtp_no_repeat_tx(void);
int test_srtp_ssrc_cap(void);
int test_pc_direct_consent(void);
int test_poll_delete_in_batch(void);
int test_poll_ticks(void);
int test_dtls_end_against_openssl(void);
int test_pc_close_notify_before_media(void);
int test_stun_request_accepted_by_libnice(void);
int test_stun_libnice_check_verified(void);
int test_stun_success_accepted_by_libnice(void);
/* test_webrtc_direct.c: ice_direct.c against libnice's STUN library */
int test_icd_replay_does_not_move(void);
int test_icd_move_controlled(void);
int test_icd_move_controlling(void);
int test_icd_consent_per_address(void);
int test_icd_rate_limit(void);
int test_icd_no_allocation(void);
int test_icd_csprng(void);
int test_icd_restart(void);
int test_pc_direct_replay(void);
int test_pc_direct_restart(void);
/* Counts OpenSSL's allocations from here on; main() calls it first. */
void tnd_test_crypto_count_install(void);

#endif
