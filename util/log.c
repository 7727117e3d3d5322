/* util/log.c  Leveled logging to stderr or syslog */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include "util.h"

int gw_log_level = GW_LOG_NOTICE;
unsigned gw_debug_mask;

static bool log_syslog;

static const char *const level_names[] = {
	"error", "warning", "notice", "info", "debug",
};

static const struct {
	const char *name;
	unsigned bit;
} debug_names[] = {
	{"sip-msg", GW_DBG_SIPMSG}, {"q921", GW_DBG_Q921},
	{"q931", GW_DBG_Q931},      {"media", GW_DBG_MEDIA},
	{"call", GW_DBG_CALL},      {"cdr", GW_DBG_CDR},
};

void gw_log_open(int level, bool use_syslog, const char *ident)
{
	gw_log_level = level;
	if (use_syslog && !log_syslog)
		openlog(ident ? ident : "tollgated", LOG_PID | LOG_NDELAY,
			LOG_DAEMON);
	else if (!use_syslog && log_syslog)
		closelog();
	log_syslog = use_syslog;
}

void gw_log_close(void)
{
	if (log_syslog)
		closelog();
	log_syslog = false;
}

int gw_log_level_parse(const char *name)
{
	for (size_t i = 0; i < TG_ARRAY_SIZE(level_names); i++)
		if (!strcasecmp(name, level_names[i]))
			return (int)i;
	if (!strcasecmp(name, "warn"))
		return GW_LOG_WARN;
	return -1;
}

const char *gw_log_level_name(int level)
{
	if (level < 0 || level >= (int)TG_ARRAY_SIZE(level_names))
		return "?";
	return level_names[level];
}

int gw_debug_parse(const char *list, unsigned *mask)
{
	char buf[256], *save = NULL, *tok;
	unsigned m = 0;

	tg_strlcpy(buf, list, sizeof(buf));
	for (tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		size_t i;

		if (!strcmp(tok, "all")) {
			m = ~0u;
			continue;
		}
		if (!strcmp(tok, "none"))
			continue;
		for (i = 0; i < TG_ARRAY_SIZE(debug_names); i++)
			if (!strcmp(tok, debug_names[i].name))
				break;
		if (i == TG_ARRAY_SIZE(debug_names))
			return -1;
		m |= debug_names[i].bit;
	}
	*mask = m;
	return 0;
}

void gw_log_emit(int level, const char *module, const char *fmt, ...)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO,
				   LOG_DEBUG};
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	if (level < 0)
		level = 0;
	if (level > GW_LOG_DEBUG)
		level = GW_LOG_DEBUG;

	if (log_syslog) {
		syslog(prio[level], "[%s] %s", module, msg);
		return;
	}

	char ts[32];
	tg_time_fmt(ts, sizeof(ts), tg_time_ms());
	/* One fprintf per line so threads do not interleave within a line. */
	fprintf(stderr, "%s %s [%s] %s\n", ts, level_names[level], module, msg);
}
