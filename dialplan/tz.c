/* dialplan/tz.c  POSIX TZ rules: local time without libc's global state
 *
 * Routes with hours ("08:00-18:00 in America/New_York") need the local
 * time of a call.  localtime_r() reads the process-wide TZ and may touch
 * files, so routing keeps its own parsed rule per zone: the POSIX TZ
 * string (POSIX.1-2017 8.3), which is also the footer of every TZif v2+
 * file (RFC 8536 3.3) and so covers the current rules of any zone.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dialplan.h"

enum rule_kind {
	R_JULIAN1, /* Jn: 1..365, Feb 29 never counted */
	R_JULIAN0, /* n: 0..365, Feb 29 counted */
	R_MONTH,   /* Mm.w.d */
};

struct tz_rule {
	enum rule_kind kind;
	int day;         /* Jn / n */
	int mon, week, wday;
	int32_t time;    /* seconds after local midnight; may be < 0 */
};

struct dp_tz {
	int32_t std_off; /* seconds east of UTC (POSIX writes west) */
	int32_t dst_off;
	bool has_dst;
	struct tz_rule start, end;
};

/* ---- calendar ----------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
	static const int n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && leap(y) ? 29 : n[m - 1];
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static int weekday(int64_t days)
{
	return (int)(((days % 7) + 11) % 7);
}

/* Local wall-clock seconds since the epoch at which @p r fires in @p y. */
static int64_t rule_local(const struct tz_rule *r, int64_t y)
{
	int64_t days;

	switch (r->kind) {
	case R_JULIAN1:
		days = days_from_civil(y, 1, 1) + r->day - 1;
		if (leap(y) && r->day >= 60)
			days++;
		break;
	case R_JULIAN0:
		days = days_from_civil(y, 1, 1) + r->day;
		break;
	default: {
		int64_t first = days_from_civil(y, r->mon, 1);
		int d = (r->wday - weekday(first) + 7) % 7 + 1;

		/* Week 5 means the last such weekday of the month. */
		d += (r->week - 1) * 7;
		while (d > month_days(y, r->mon))
			d -= 7;
		days = first + d - 1;
		break;
	}
	}
	return days * 86400 + r->time;
}

/* ---- parsing ------------------------------------------------------------ */

static bool parse_name(const char **p)
{
	const char *s = *p;
	size_t n = 0;

	if (*s == '<') {
		s++;
		while (*s && *s != '>') {
			if (!isalnum((unsigned char)*s) && *s != '+' &&
			    *s != '-')
				return false;
			s++;
			n++;
		}
		if (*s != '>' || n < 3)
			return false;
		*p = s + 1;
		return true;
	}
	while (isalpha((unsigned char)*s)) {
		s++;
		n++;
	}
	if (n < 3)
		return false;
	*p = s;
	return true;
}

static bool parse_num(const char **p, int max, int *out)
{
	const char *s = *p;
	int v = 0;

	if (!isdigit((unsigned char)*s))
		return false;
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (*s - '0');
		if (v > max)
			return false;
		s++;
	}
	*p = s;
	*out = v;
	return true;
}

/* [+-]hh[:mm[:ss]], hours up to @p max_h: 24 for offsets (POSIX), 167
 * for transition times (RFC 8536 3.3.1 extension). */
static bool parse_time(const char **p, int max_h, int32_t *secs)
{
	const char *s = *p;
	int sign = 1, h, m = 0, sec = 0;

	if (*s == '+' || *s == '-') {
		sign = *s == '-' ? -1 : 1;
		s++;
	}
	if (!parse_num(&s, max_h, &h))
		return false;
	if (*s == ':') {
		s++;
		if (!parse_num(&s, 59, &m))
			return false;
		if (*s == ':') {
			s++;
			if (!parse_num(&s, 59, &sec))
				return false;
		}
	}
	*secs = sign * (h * 3600 + m * 60 + sec);
	*p = s;
	return true;
}

static bool parse_rule(const char **p, struct tz_rule *r)
{
	const char *s = *p;

	memset(r, 0, sizeof(*r));
	if (*s == 'J') {
		s++;
		r->kind = R_JULIAN1;
		if (!parse_num(&s, 365, &r->day) || r->day < 1)
			return false;
	} else if (*s == 'M') {
		s++;
		r->kind = R_MONTH;
		if (!parse_num(&s, 12, &r->mon) || r->mon < 1 || *s++ != '.' ||
		    !parse_num(&s, 5, &r->week) || r->week < 1 ||
		    *s++ != '.' || !parse_num(&s, 6, &r->wday))
			return false;
	} else {
		r->kind = R_JULIAN0;
		if (!parse_num(&s, 365, &r->day))
			return false;
	}
	r->time = 7200; /* 02:00:00 by default */
	if (*s == '/') {
		s++;
		if (!parse_time(&s, 167, &r->time))
			return false;
	}
	*p = s;
	return true;
}

int dp_tz_parse(struct dp_tz **out, const char *posix)
{
	struct dp_tz tz;
	const char *s = posix;
	int32_t off;

	if (!out || !posix)
		return EINVAL;
	memset(&tz, 0, sizeof(tz));
	if (*s == ':')
		return EINVAL; /* implementation-defined form: not ours */
	/* Bare "UTC" and "GMT" are what people write; POSIX wants "UTC0". */
	if (!strcmp(s, "UTC") || !strcmp(s, "GMT"))
		s += 3;
	else if (!parse_name(&s) || !parse_time(&s, 24, &off))
		return EINVAL;
	else
		tz.std_off = -off;
	if (*s) {
		if (!parse_name(&s))
			return EINVAL;
		tz.has_dst = true;
		tz.dst_off = tz.std_off + 3600;
		if (*s && *s != ',') {
			if (!parse_time(&s, 24, &off))
				return EINVAL;
			tz.dst_off = -off;
		}
		if (*s == ',') {
			s++;
			if (!parse_rule(&s, &tz.start) || *s++ != ',' ||
			    !parse_rule(&s, &tz.end))
				return EINVAL;
		} else {
			/* POSIX leaves it open; the US rules are what
			 * every C library assumes. */
			tz.start = (struct tz_rule){R_MONTH, 0, 3, 2, 0, 7200};
			tz.end = (struct tz_rule){R_MONTH, 0, 11, 1, 0, 7200};
		}
	}
	if (*s)
		return EINVAL;
	*out = malloc(sizeof(**out));
	if (!*out)
		return ENOMEM;
	**out = tz;
	return 0;
}

void dp_tz_free(struct dp_tz *tz)
{
	free(tz);
}

static bool in_dst(const struct dp_tz *tz, int64_t t)
{
	int64_t y, start, end;
	int m, d;

	if (!tz->has_dst)
		return false;
	civil_from_days(floor_div(t + tz->std_off, 86400), &y, &m, &d);
	/* The start is written in standard time, the end in DST. */
	start = rule_local(&tz->start, y) - tz->std_off;
	end = rule_local(&tz->end, y) - tz->dst_off;
	if (start < end)
		return t >= start && t < end;
	return t >= start || t < end; /* southern hemisphere */
}

void dp_tz_local(const struct dp_tz *tz, int64_t t, int *wday, int *minute)
{
	int64_t local = t + (tz ? (in_dst(tz, t) ? tz->dst_off : tz->std_off)
				: 0);
	int64_t days = floor_div(local, 86400);

	*wday = weekday(days);
	*minute = (int)((local - days * 86400) / 60);
}

/* ---- zone names ----------------------------------------------------------- */

/* Zone name -> POSIX TZ rule: the footer of the TZif file (RFC 8536 3.3),
 * which holds the rule for times after the file's last transition.  Run
 * when a snapshot is built, never while deciding. */
int dp_tz_zoneinfo(const char *name, char *posix, size_t size, void *arg)
{
	const char *dir = arg ? arg : "/usr/share/zoneinfo";
	char path[512], buf[65536];
	const char *end, *start;
	size_t n;
	FILE *f;

	for (const char *c = name; *c; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		      (*c >= '0' && *c <= '9') || strchr("/_+-", *c)))
			return EINVAL;
	if (!*name || *name == '/' || strstr(name, ".."))
		return EINVAL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		return ENOENT;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	if (n < 44 || memcmp(buf, "TZif", 4) || buf[4] < '2' ||
	    buf[n - 1] != '\n')
		return EINVAL;
	end = buf + n - 1;
	start = end;
	while (start > buf && start[-1] != '\n')
		start--;
	if (start == buf || start == end || (size_t)(end - start) >= size)
		return EINVAL;
	memcpy(posix, start, (size_t)(end - start));
	posix[end - start] = '\0';
	return 0;
}
