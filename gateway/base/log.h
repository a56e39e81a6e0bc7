/* Structured log lines (style guide R6).
 *
 * Every line is logfmt: `ts=... level=warn mod=api call=- msg="..."`, written
 * whole with one write(2) so lines from the signalling thread and media
 * workers never interleave. Each module has its own level. The call id is the
 * only thread-local context (R4). Per-packet code uses TND_LOG_RL. */
#ifndef TND_BASE_LOG_H
#define TND_BASE_LOG_H

#include <stdatomic.h>
#include <stdbool.h>

enum tnd_log_level {
	TND_LOG_LEVEL_ERROR,
	TND_LOG_LEVEL_WARN,
	TND_LOG_LEVEL_NOTICE,
	TND_LOG_LEVEL_INFO,
	TND_LOG_LEVEL_DEBUG,
};

enum tnd_log_mod {
	TND_LOG_MAIN,
	TND_LOG_CONF,
	TND_LOG_API,
	TND_LOG_POLICY,
	TND_LOG_SIP,
	TND_LOG_WEBRTC,
	TND_LOG_MEDIA,
	TND_LOG_CODECS,
	TND_LOG_LIB,       /* third-party libraries' own messages */
	TND_LOG_MOD_COUNT,
};

/* Current level of a module, rewritten on SIGHUP while workers read it:
 * relaxed atomics (a stale read only changes whether one line is printed,
 * but a plain int would be a data race by the letter of C11). Read through
 * tnd_log_level(). */
extern atomic_int tnd_log_levels[TND_LOG_MOD_COUNT];
static inline int tnd_log_level(enum tnd_log_mod mod)
{
	return atomic_load_explicit(&tnd_log_levels[mod], memory_order_relaxed);
}

void tnd_log_write(enum tnd_log_mod mod, enum tnd_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define TND_LOG(mod, lvl, ...) \
	do { \
		if ((int)(lvl) <= tnd_log_level(mod)) \
			tnd_log_write((mod), (lvl), __VA_ARGS__); \
	} while (0)
#define TND_LOG_ERR(mod, ...)    TND_LOG(mod, TND_LOG_LEVEL_ERROR, __VA_ARGS__)
#define TND_LOG_WARN(mod, ...)   TND_LOG(mod, TND_LOG_LEVEL_WARN, __VA_ARGS__)
#define TND_LOG_NOTICE(mod, ...) TND_LOG(mod, TND_LOG_LEVEL_NOTICE, __VA_ARGS__)
#define TND_LOG_INFO(mod, ...)   TND_LOG(mod, TND_LOG_LEVEL_INFO, __VA_ARGS__)
#define TND_LOG_DEBUG(mod, ...)  TND_LOG(mod, TND_LOG_LEVEL_DEBUG, __VA_ARGS__)

/* Rate-limited: at most one line per second per call site; the lines
 * suppressed meanwhile are counted into the next one. */
struct tnd_log_rl {
	long long next_us;
	unsigned long dropped;
};
bool tnd_log_rl_pass(struct tnd_log_rl *rl, unsigned long *dropped);
#define TND_LOG_RL(mod, lvl, fmt, ...) \
	do { \
		static _Thread_local struct tnd_log_rl rl_; \
		unsigned long dropped_; \
		if ((int)TND_LOG_LEVEL_##lvl <= tnd_log_level(mod) && \
		    tnd_log_rl_pass(&rl_, &dropped_)) \
			tnd_log_write((mod), TND_LOG_LEVEL_##lvl, fmt " (%lu similar suppressed)", \
				      __VA_ARGS__, dropped_); \
	} while (0)

/* "info" or "warn,api=debug,sip=info": a default level, then per module.
 * Returns 0 or EINVAL (nothing changed). `check_only` validates only. */
int tnd_log_parse_levels(const char *spec, bool check_only);
/* Name of a level or module, for messages and --help. */
const char *tnd_log_level_name(enum tnd_log_level level);
const char *tnd_log_mod_name(enum tnd_log_mod mod);

/* Log to `path` (appending), or to stderr when path is NULL or empty.
 * Called again (SIGHUP), it reopens, for log rotation. 0 or errno. */
int tnd_log_open(const char *path);
void tnd_log_close(void);

/* The call id put on this thread's lines; NULL clears. Borrowed: the caller
 * keeps the string alive while it is set. */
void tnd_log_set_call(const char *call_id);

#endif
