/* Private to the gateway/sdp unit tests, shared by test_sdp.c (parsing,
 * writing, the model, caps and bad input; the test table and main) and
 * test_sdp_neg.c (the offer/answer test language and the offer/answer
 * helpers): SDP line macros, the Chromium fingerprint, the parse and write
 * helpers, the real Chromium offer main() loads, and the tests in
 * test_sdp_neg.c that main()'s table lists. */
#ifndef TND_TESTS_TEST_SDP_H
#define TND_TESTS_TEST_SDP_H

struct tnd_sdp;

#define L(x) x "\r\n"

#define FP_CHROME "93:90:EF:32:AD:DF:32:BF:DE:A7:86:BC:1E:20:67:95:92:49:80:68:BC:BF:CD:35:" \
	"7E:A1:0A:B6:4E:A3:5E:47"

/* Parses text that must parse; NULL (and the error printed) if it does not. */
struct tnd_sdp *tnd_test_sdp_parse_ok(const char *text);
/* Writes sdp into a new string for free(); NULL on failure. */
char *tnd_test_sdp_write_ok(const struct tnd_sdp *sdp);
/* Chromium 120's real offer (tests/fuzz/corpus/sdp/), loaded by main(). */
const char *tnd_test_sdp_chrome_offer(void);

/* test_sdp_neg.c */
int test_answer_webrtc_cases(void);
int test_answer_sip_cases(void);
int test_answer_webrtc_text(void);
int test_offer_sip(void);
int test_negotiated_sip(void);
int test_offer_webrtc(void);
int test_negotiated_errors(void);
int test_local_invalid(void);

/* test_sdp_crypto.c */
int test_crypto_parse(void);
int test_crypto_write(void);

#endif
