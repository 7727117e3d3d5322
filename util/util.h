/* util/util.h  Shared base: logging, reference-counted objects, clocks */
#ifndef TG_UTIL_H
#define TG_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- logging ---------------------------------------------------------- */

enum gw_log_level {
	GW_LOG_ERROR = 0,
	GW_LOG_WARN = 1,
	GW_LOG_NOTICE = 2,
	GW_LOG_INFO = 3,
	GW_LOG_DEBUG = 4,
};

/* Per-subsystem debug bits, switched at run time. */
enum gw_debug_bit {
	GW_DBG_SIPMSG = 1u << 0, /* every SIP message in and out */
	GW_DBG_Q921 = 1u << 1,
	GW_DBG_Q931 = 1u << 2,
	GW_DBG_MEDIA = 1u << 3,
	GW_DBG_CALL = 1u << 4,
	GW_DBG_CDR = 1u << 5,
};

extern int gw_log_level;
extern unsigned gw_debug_mask;

/**
 * Configure logging.  @param use_syslog sends lines to syslog(3) with
 * @p ident instead of stderr.
 */
void gw_log_open(int level, bool use_syslog, const char *ident);
void gw_log_close(void);
int gw_log_level_parse(const char *name);       /* -1 if unknown */
const char *gw_log_level_name(int level);
int gw_debug_parse(const char *list, unsigned *mask); /* "sip-msg,q931" */

void gw_log_emit(int level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* LOG_MODULE is defined per file before including this header. */
#ifndef LOG_MODULE
#define LOG_MODULE "tollgate"
#endif

#define gw_log(level, ...)                                               \
	do {                                                             \
		if ((level) <= gw_log_level)                             \
			gw_log_emit((level), LOG_MODULE, __VA_ARGS__);   \
	} while (0)

#define gw_err(...) gw_log(GW_LOG_ERROR, __VA_ARGS__)
#define gw_warn(...) gw_log(GW_LOG_WARN, __VA_ARGS__)
#define gw_notice(...) gw_log(GW_LOG_NOTICE, __VA_ARGS__)
#define gw_info(...) gw_log(GW_LOG_INFO, __VA_ARGS__)
#define gw_dbg(bit, ...)                                                 \
	do {                                                             \
		if (gw_debug_mask & (bit))                               \
			gw_log_emit(GW_LOG_DEBUG, LOG_MODULE, __VA_ARGS__); \
	} while (0)

/* ---- reference-counted objects (re's mem_* style) ---------------------- */

typedef void(obj_destroy_h)(void *arg);

/** Allocate zeroed memory with one reference.  NULL on ENOMEM. */
void *obj_zalloc(size_t size, obj_destroy_h *dh);
/** Take a reference; returns @p obj (NULL-safe). */
void *obj_ref(void *obj);
/** Drop a reference, destroying on the last; always returns NULL. */
void *obj_deref(void *obj);
unsigned obj_nrefs(const void *obj);
/** Objects alive now (for leak checks in tests). */
long obj_live_count(void);

/* ---- clocks ------------------------------------------------------------ */

/** Wall clock, milliseconds since the Unix epoch (UTC). */
int64_t tg_time_ms(void);
/** Monotonic clock in milliseconds. */
int64_t tg_mono_ms(void);
/** Format @p ms as "2026-11-22T07:44:54.123Z" into @p buf (>= 25 bytes). */
void tg_time_fmt(char *buf, size_t size, int64_t ms);

/* ---- strings ------------------------------------------------------------ */

/** strlcpy: copies at most size-1 bytes, always terminates; returns strlen(src). */
size_t tg_strlcpy(char *dst, const char *src, size_t size);
struct sockaddr;
/** "192.0.2.1:5060" or "[2001:db8::1]:5060" of an AF_INET or AF_INET6
 *  address into @p buf ("?" for another family). */
void tg_sockaddr_fmt(const struct sockaddr *sa, char *buf, size_t size);
/** Make a random RFC 4122 version 4 UUID string (37 bytes with NUL). */
void tg_uuid(char out[37]);
/** Fill @p buf with random bytes from getrandom(2). */
int tg_random(void *buf, size_t len);

#define TG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
