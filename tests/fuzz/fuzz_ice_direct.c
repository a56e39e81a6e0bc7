/* libFuzzer target: ICE after libnice (webrtc/ice_direct.c) fed the way
 * direct.c feeds it, without a socket: datagrams from one of four
 * addresses, clock steps and ticks. The input is a list of records: an op
 * byte (bits 0-1 the source address, 2-4 a clock step, 5 "the peer signs
 * this as its check", 6 "the peer answers our last check to this address",
 * 7 "tick"), a length byte and that many bytes. A harness-made check and
 * answer are authentic (the peer's passwords are this file's); raw bytes
 * are whatever the fuzzer makes.
 *
 * The H2 invariant: media moves only to an address the peer really
 * answered our check from. And after consent is lost nothing is sent.
 * rtpsock.c is linked for the address helpers; it never makes a socket
 * here, so pc.c's deferred release it refers to is stubbed below rather
 * than linking pc.c, libnice and libsrtp. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "webrtc/webrtc.h"
#include "webrtc/webrtc_int.h"

#define LPWD "fuzzlocalpasswordfuzzlo"
#define RPWD "fuzzremotepasswordfuzzr"
#define NADDR 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

void tnd_webrtc_put_later(struct tnd_obj *obj, struct tnd_poller *p,
			  struct tnd_webrtc_release *rel)
{
	(void)obj;
	(void)p;
	(void)rel;
	abort();   /* never reached: no rtpsock is made */
}

struct harness {
	struct sockaddr_storage addr[NADDR];
	socklen_t len[NADDR];
	bool answered[NADDR];           /* the peer answered a check from there */
	uint8_t last_check[NADDR][12];  /* our last check's transaction id */
	bool have_check[NADDR];
	bool lost;
};

static int to_index(const struct harness *h, const struct sockaddr_storage *to)
{
	for (int i = 0; i < NADDR; i++)
		if (tnd_webrtc_sa_equal(&h->addr[i], to))
			return i;
	abort();   /* we only ever send to where something came from */
}

static int on_send(void *arg, const uint8_t *buf, size_t len, const struct sockaddr_storage *to,
		   socklen_t to_len)
{
	struct harness *h = arg;
	struct tnd_stun_binding b;
	int i = to_index(h, to);

	(void)to_len;
	if (h->lost || tnd_stun_parse_binding(buf, len, &b))
		abort();   /* nothing after consent is lost; only valid STUN */
	if (b.type == TND_STUN_BINDING_REQUEST) {
		memcpy(h->last_check[i], b.txid, 12);
		h->have_check[i] = true;
	}
	return 0;
}

static void addresses(struct harness *h)
{
	struct sockaddr_in *v4;
	struct sockaddr_in6 *v6;

	for (int i = 0; i < 3; i++) {
		v4 = (struct sockaddr_in *)&h->addr[i];
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)(1000 + i));
		inet_pton(AF_INET, i == 2 ? "198.51.100.9" : "192.0.2.1", &v4->sin_addr);
		h->len[i] = sizeof(*v4);
	}
	v6 = (struct sockaddr_in6 *)&h->addr[3];
	v6->sin6_family = AF_INET6;
	v6->sin6_port = htons(4000);
	inet_pton(AF_INET6, "2001:db8::1", &v6->sin6_addr);
	h->len[3] = sizeof(*v6);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tnd_icd s;
	struct harness h;
	struct tnd_pc_stats st;
	struct tnd_stun_key lk, rk;
	struct tnd_icd_conf c = {
		.local_ufrag = "Lufr", .local_pwd = LPWD, .remote_ufrag = "Rufr", .remote_pwd = RPWD,
		.controlling = size > 0 && (data[0] & 1), .priority = 99,
		.interval_us = 5000000, .timeout_us = 30000000, .send = on_send, .arg = &h, .st = &st,
	};
	int64_t now = 1000000;
	size_t off = 1;

	memset(&h, 0, sizeof(h));
	memset(&st, 0, sizeof(st));
	addresses(&h);
	h.answered[0] = true;   /* libnice's checks succeeded there */
	c.remote = &h.addr[0];
	c.remote_len = h.len[0];
	if (tnd_icd_init(&s, &c, now))
		return 0;
	tnd_stun_key_set(&lk, LPWD);
	tnd_stun_key_set(&rk, RPWD);
	while (off + 2 <= size && !h.lost) {
		uint8_t op = data[off], n = data[off + 1];
		int i = op & 3;
		uint8_t msg[600], txid[12] = { 0 };
		size_t len = 0;
		socklen_t sl;

		off += 2;
		if (n > size - off)
			n = (uint8_t)(size - off);
		now += (int64_t)((op >> 2) & 7) * 700000;
		if (op & 0x20) {
			struct tnd_stun_req r = {
				.user = "Lufr:Rufr", .priority = 7, .controlling = !c.controlling,
				.use_candidate = n > 0 && (data[off] & 1),
			};

			memcpy(txid, data + off, n < 12 ? n : 12);
			len = tnd_stun_build_request(msg, sizeof(msg), txid, &r, &lk);
		} else if ((op & 0x40) && h.have_check[i]) {
			len = tnd_stun_build_success(msg, sizeof(msg), h.last_check[i], &h.addr[i], &rk);
			h.answered[i] = true;
		} else {
			memcpy(msg, data + off, n);
			len = n;
		}
		off += n;
		if (len)
			tnd_icd_input(&s, msg, len, &h.addr[i], h.len[i], now);
		if ((op & 0x80) && tnd_icd_tick(&s, now) == ETIMEDOUT)
			h.lost = true;
		/* H2: media only where the peer answered from */
		if (!h.answered[to_index(&h, tnd_icd_remote(&s, &sl))])
			abort();
	}
	tnd_icd_clear(&s);
	tnd_stun_key_clear(&lk);
	tnd_stun_key_clear(&rk);
	return 0;
}
