/* pstnsim/main.c  PSTN simulator: options, event loop, JSON output */
#define LOG_MODULE "pstnsim"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "pstnsim/pstnsim.h"
#include "util/util.h"

#define SHUTDOWN_GRACE_MS 1000
#define MAX_RULES 256

struct ps ps;

static const struct {
	const char *name;
	int type;
} switches[] = {
	{"ni2", PRI_SWITCH_NI2},
	{"ni1", PRI_SWITCH_NI1},
	{"dms100", PRI_SWITCH_DMS100},
	{"lucent5e", PRI_SWITCH_LUCENT5E},
	{"att4ess", PRI_SWITCH_ATT4ESS},
	{"euroisdn_e1", PRI_SWITCH_EUROISDN_E1},
	{"euroisdn_t1", PRI_SWITCH_EUROISDN_T1},
	{"qsig", PRI_SWITCH_QSIG},
};

int64_t ps_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void ps_emit(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

void ps_json_str(char *out, size_t size, const char *in)
{
	size_t o = 0;

	for (; *in && o + 7 < size; in++) {
		unsigned char c = (unsigned char)*in;

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			/* Q.931 numbers are IA5: anything else is escaped. */
			o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

/* ---- shutdown ---------------------------------------------------------- */

static void on_exit_timer(evutil_socket_t fd, short what, void *arg)
{
	/* Whatever did not release in time is reported as it stands. */
	for (int i = 0; i < ps.conf.nspans; i++)
		ps_call_clear_span(&ps.spans[i],
				   PRI_CAUSE_NORMAL_CLEARING);
	event_base_loopbreak(ps.base);
}

static void begin_shutdown(const char *why)
{
	struct timeval tv = {SHUTDOWN_GRACE_MS / 1000,
			     (SHUTDOWN_GRACE_MS % 1000) * 1000};

	if (ps.shutting_down)
		return;
	gw_notice("shutting down: %s", why);
	ps.shutting_down = true;
	if (ps.ev_orig)
		evtimer_del(ps.ev_orig);
	ps_call_hangup_all();
	if (!ps_call_count()) {
		event_base_loopbreak(ps.base);
		return;
	}
	evtimer_add(ps.ev_exit, &tv);
}

void ps_check_done(void)
{
	if (ps.shutting_down) {
		if (!ps_call_count())
			event_base_loopbreak(ps.base);
		return;
	}
	if (ps.conf.exit_when_done && ps.orig_started &&
	    ps.orig_placed >= ps.conf.originate && ps.orig_live <= 0)
		begin_shutdown("all originated calls finished");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	begin_shutdown(sig == SIGINT ? "SIGINT" : "SIGTERM");
}

/* SIGUSR1 / SIGUSR2: the D-channel of every span cut / mended. */
static void on_dcut(evutil_socket_t sig, short what, void *arg)
{
	bool cut = sig == SIGUSR1;

	if (ps.dcut == cut)
		return;
	ps.dcut = cut;
	gw_notice("D-channel %s", cut ? "cut" : "mended");
	ps_emit("{\"event\":\"dcut\",\"on\":%s}", cut ? "true" : "false");
}

static void on_duration(evutil_socket_t fd, short what, void *arg)
{
	begin_shutdown("--duration reached");
}

/* ---- libpri logging ---------------------------------------------------- */

static void pri_msg_cb(struct pri *pri, char *s)
{
	if (ps.conf.verbose)
		fputs(s, stderr);
}

static void pri_err_cb(struct pri *pri, char *s)
{
	/* Errors are worth a line even without --verbose; never stdout. */
	fputs(s, stderr);
}

/* ---- options ----------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: pstnsim [options]\n"
	      "  --dir DIR             socket directory (./run)\n"
	      "  --spans N             number of spans (1)\n"
	      "  --type t1|e1          span type (t1)\n"
	      "  --switch TYPE         ni2 ni1 dms100 lucent5e att4ess\n"
	      "                        euroisdn_e1 euroisdn_t1 qsig (ni2)\n"
	      "  --side network|cpe    our Q.931 role (network)\n"
	      "  --rule PREFIX=ACTION  answer progress alert-inband\n"
	      "                        proceeding-inband busy\n"
	      "                        unallocated congestion noanswer\n"
	      "                        ignore (no reply to the SETUP)\n"
	      "                        reject:N announce:N (in-band\n"
	      "                        progress, then cause N)\n"
	      "        [,forget=MS] [,drop-release]  forget the answered\n"
	      "                        call silently after MS; never\n"
	      "                        answer DISCONNECT or RELEASE\n"
	      "  --pick-channel high   a SETUP naming its channel only\n"
	      "                        preferred gets our highest free one\n"
	      "  --answer-after MS     delay before CONNECT (200)\n"
	      "  --hangup-after MS     clear answered calls after MS\n"
	      "                        (0: never)\n"
	      "  --media echo|tone:HZ|silence|stamp|wav:FILE|wav-once:FILE\n"
	      "                        what calls play (echo)\n"
	      "  --dtmf DIGITS         in-band DTMF after answer\n"
	      "  --dtmf-at MS          ... this long after answer (500)\n"
	      "  --detect HZ           tone measured on received audio (1000)\n"
	      "  --originate N --rate CPS --to NUM --from NUM\n"
	      "        [--to-step K] [--from-step K] [--hold MS]\n"
	      "                        place calls (hold 1000)\n"
	      "  --to-plan P, --from-plan P   TON of originated numbers:\n"
	      "                        unknown intl national subscriber\n"
	      "                        or TON<<4|NPI (unknown)\n"
	      "  --orig-chan CHAN      originated calls name bearer CHAN,\n"
	      "                        free or not (glare tests)\n"
	      "  --orig-preferred      ... as preferred, not exclusive\n"
	      "  --glare N             the next N SETUPs we receive cross\n"
	      "                        one of ours (to --to) on their\n"
	      "                        channel; ours wins (Q.931 5.7)\n"
	      "  --scenario FILE       rules, one a line: PREFIX ACTION\n"
	      "                        [ring=MS] [hangup=MS] [media=...]\n"
	      "                        [dtmf=DIGITS] [dtmf_at=MS]\n"
	      "  --connected NUM       answer with this Connected Number\n"
	      "  --service             SERVICE messages (maintenance)\n"
	      "  --oos CHAN            take bearer CHAN out of service by\n"
	      "                        SERVICE when the D-channel is up\n"
	      "  --overlap K           originated calls send K digits in\n"
	      "                        the SETUP, the rest one by one in\n"
	      "                        INFORMATION (overlap sending)\n"
	      "  --overlap-receive N   incoming SETUPs without Sending\n"
	      "                        Complete: SETUP ACKNOWLEDGE, digits\n"
	      "                        from INFORMATION up to N (0: until\n"
	      "                        Sending Complete or T302)\n"
	      "  --overlap-inband      ... SETUP ACKNOWLEDGE says in-band\n"
	      "                        information (PI 8): dial tone\n"
	      "  --t302 MS             inter-digit timer (10000)\n"
	      "  --redirecting NUM[:REASON]  originated calls were diverted\n"
	      "                        by NUM (Q.931 reason, 15 unconditional)\n"
	      "  --exit-when-done      exit once originated calls finished\n"
	      "  --duration S          exit after S seconds\n"
	      "  --verbose             libpri messages and more logs on\n"
	      "                        stderr\n"
	      "signals: SIGUSR1 cuts the D-channel (frames lost both\n"
	      "ways, audio goes on), SIGUSR2 mends it\n",
	      f);
}

static int bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "pstnsim: bad value for --%s: '%s' (%s)\n", opt, val,
		why);
	return EINVAL;
}

static int parse_long(const char *opt, const char *val, long min, long max,
		      long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(val, &end, 10);
	if (errno || end == val || *end || v < min || v > max) {
		char why[64];

		snprintf(why, sizeof(why), "integer %ld..%ld expected", min,
			 max);
		return bad(opt, val, why);
	}
	*out = v;
	return 0;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Q.931 type of number (ISDN/E.164 plan), or the octet as a number. */
static int parse_plan(const char *opt, const char *val, int *out)
{
	static const struct {
		const char *name;
		int plan;
	} plans[] = {
		{"unknown", PRI_UNKNOWN},
		{"intl", PRI_INTERNATIONAL_ISDN},
		{"international", PRI_INTERNATIONAL_ISDN},
		{"national", PRI_NATIONAL_ISDN},
		{"subscriber", PRI_LOCAL_ISDN},
		{"local", PRI_LOCAL_ISDN},
	};
	char *end;
	long v;

	for (size_t i = 0; i < TG_ARRAY_SIZE(plans); i++)
		if (!strcmp(val, plans[i].name)) {
			*out = plans[i].plan;
			return 0;
		}
	v = strtol(val, &end, 0);
	if (end == val || *end || v < 0 || v > 127)
		return bad(opt, val, "unknown, intl, national, subscriber or "
			   "TON<<4|NPI 0..127");
	*out = (int)v;
	return 0;
}

enum {
	O_DIR = 256, O_SPANS, O_TYPE, O_SWITCH, O_SIDE, O_RULE, O_ANSWER,
	O_HANGUP, O_MEDIA, O_DETECT, O_ORIG, O_RATE, O_TO, O_FROM, O_STEP,
	O_HOLD, O_DONE, O_DURATION, O_VERBOSE, O_HELP, O_REDIR, O_FROMNAME,
	O_RESTRICT, O_OVERLAP, O_SERVICE, O_OOS, O_CONNECTED, O_SCENARIO,
	O_FROMSTEP, O_TOPLAN, O_FROMPLAN, O_DTMF, O_DTMFAT,
	O_PICK, O_ORIG_CHAN, O_ORIG_PREF, O_GLARE,
	O_OVERLAP_RX, O_T302, O_OVERLAP_INBAND,
};

static const struct option longopts[] = {
	{"dir", required_argument, NULL, O_DIR},
	{"spans", required_argument, NULL, O_SPANS},
	{"type", required_argument, NULL, O_TYPE},
	{"switch", required_argument, NULL, O_SWITCH},
	{"side", required_argument, NULL, O_SIDE},
	{"rule", required_argument, NULL, O_RULE},
	{"answer-after", required_argument, NULL, O_ANSWER},
	{"hangup-after", required_argument, NULL, O_HANGUP},
	{"media", required_argument, NULL, O_MEDIA},
	{"detect", required_argument, NULL, O_DETECT},
	{"originate", required_argument, NULL, O_ORIG},
	{"rate", required_argument, NULL, O_RATE},
	{"to", required_argument, NULL, O_TO},
	{"from", required_argument, NULL, O_FROM},
	{"redirecting", required_argument, NULL, O_REDIR},
	{"from-name", required_argument, NULL, O_FROMNAME},
	{"overlap", required_argument, NULL, O_OVERLAP},
	{"overlap-receive", required_argument, NULL, O_OVERLAP_RX},
	{"overlap-inband", no_argument, NULL, O_OVERLAP_INBAND},
	{"t302", required_argument, NULL, O_T302},
	{"service", no_argument, NULL, O_SERVICE},
	{"connected", required_argument, NULL, O_CONNECTED},
	{"scenario", required_argument, NULL, O_SCENARIO},
	{"oos", required_argument, NULL, O_OOS},
	{"pick-channel", required_argument, NULL, O_PICK},
	{"orig-chan", required_argument, NULL, O_ORIG_CHAN},
	{"orig-preferred", no_argument, NULL, O_ORIG_PREF},
	{"glare", required_argument, NULL, O_GLARE},
	{"restricted", no_argument, NULL, O_RESTRICT},
	{"to-step", required_argument, NULL, O_STEP},
	{"from-step", required_argument, NULL, O_FROMSTEP},
	{"to-plan", required_argument, NULL, O_TOPLAN},
	{"from-plan", required_argument, NULL, O_FROMPLAN},
	{"dtmf", required_argument, NULL, O_DTMF},
	{"dtmf-at", required_argument, NULL, O_DTMFAT},
	{"hold", required_argument, NULL, O_HOLD},
	{"exit-when-done", no_argument, NULL, O_DONE},
	{"duration", required_argument, NULL, O_DURATION},
	{"verbose", no_argument, NULL, O_VERBOSE},
	{"help", no_argument, NULL, O_HELP},
	{NULL, 0, NULL, 0},
};

/* A comment starts with a '#' that begins a word: dtmf=12# keeps its. */
static void strip_comment(char *line)
{
	for (char *p = line; *p; p++)
		if (*p == '#' && (p == line || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
}

/*
 * A scenario file: one rule a line, "PREFIX ACTION [ring=MS] [hangup=MS]
 * [media=echo|tone|silence|wav:FILE|wav-once:FILE] [dtmf=DIGITS]
 * [dtmf_at=MS] [dtmf_on=MS] [dtmf_off=MS]"; a '#' at the start of a word
 * comments out the rest of the line.
 * The same rules as --rule PREFIX=ACTION,ring=MS,...
 */
static int load_scenario(struct ps_conf *c, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	unsigned n = 0;
	int err = 0;

	if (!f) {
		fprintf(stderr, "pstnsim: --scenario %s: %s\n", path,
			strerror(errno));
		return EINVAL;
	}
	while (!err && fgets(line, sizeof(line), f)) {
		char spec[1024], *save = NULL, *tok;
		size_t len = 0;
		int words = 0;

		n++;
		line[strcspn(line, "\r\n")] = '\0';
		strip_comment(line);
		for (tok = strtok_r(line, " \t", &save); tok;
		     tok = strtok_r(NULL, " \t", &save), words++)
			len += (size_t)snprintf(spec + len, sizeof(spec) - len,
						"%s%s", words == 0 ? ""
						: words == 1 ? "=" : ",", tok);
		if (!words)
			continue;
		if (words < 2 || len >= sizeof(spec) ||
		    c->nrules == MAX_RULES ||
		    ps_rule_parse(&c->rules[c->nrules], spec)) {
			fprintf(stderr, "pstnsim: %s:%u: want PREFIX ACTION "
				"[ring=MS] [hangup=MS] [media=echo|tone|"
				"silence|wav:FILE|wav-once:FILE] "
				"[dtmf=DIGITS] [dtmf_at=MS]\n", path, n);
			err = EINVAL;
			break;
		}
		c->nrules++;
	}
	fclose(f);
	return err;
}

static int parse_args(struct ps_conf *c, int argc, char **argv)
{
	const char *name;
	long v;
	int opt, err = 0;
	bool have_to = false, have_rate = false;

	*c = (struct ps_conf){
		.dir = "./run", .nspans = 1, .switchtype = PRI_SWITCH_NI2,
		.node = PRI_NETWORK, .answer_after = 200, .tone_hz = 1000,
		.detect_hz = 1000, .rate = 1, .hold = 1000, .overlap = -1,
		.play = {.dtmf_at = -1, .dtmf_on = -1, .dtmf_off = -1},
		.overlap_receive = -1, .t302 = 10000,
	};
	c->rules = calloc(MAX_RULES, sizeof(*c->rules));
	if (!c->rules)
		return ENOMEM;
	tg_strlcpy(c->from, "5550000", sizeof(c->from));

	opterr = 0;
	while (!err && (opt = getopt_long(argc, argv, "", longopts, NULL)) !=
			       -1) {
		name = optind > 1 ? argv[optind - 1] : "?";
		for (const struct option *o = longopts; o->name; o++)
			if (o->val == opt)
				name = o->name;
		switch (opt) {
		case O_DIR:
			c->dir = optarg;
			break;
		case O_SPANS:
			err = parse_long(name, optarg, 1, PS_MAXSPANS, &v);
			c->nspans = (int)v;
			break;
		case O_TYPE:
			if (!strcmp(optarg, "t1"))
				c->e1 = false;
			else if (!strcmp(optarg, "e1"))
				c->e1 = true;
			else
				err = bad(name, optarg, "t1 or e1");
			break;
		case O_SWITCH:
			err = EINVAL;
			for (size_t i = 0; i < TG_ARRAY_SIZE(switches); i++)
				if (!strcmp(optarg, switches[i].name)) {
					c->switchtype = switches[i].type;
					err = 0;
				}
			if (err)
				err = bad(name, optarg, "unknown switch type");
			break;
		case O_SIDE:
			if (!strcmp(optarg, "network") ||
			    !strcmp(optarg, "net"))
				c->node = PRI_NETWORK;
			else if (!strcmp(optarg, "cpe"))
				c->node = PRI_CPE;
			else
				err = bad(name, optarg, "network or cpe");
			break;
		case O_RULE:
			if (c->nrules == MAX_RULES)
				err = bad(name, optarg, "too many rules");
			else if (ps_rule_parse(&c->rules[c->nrules], optarg))
				err = bad(name, optarg,
					  "PREFIX=answer|progress|alert-inband|"
					  "busy|unallocated|congestion|"
					  "noanswer|ignore|reject:N|announce:N"
					  "[,ring=MS][,hangup=MS][,media=...]"
					  "[,forget=MS][,drop-release]");
			else
				c->nrules++;
			break;
		case O_ANSWER:
			err = parse_long(name, optarg, 0, 3600000, &v);
			c->answer_after = (int)v;
			break;
		case O_HANGUP:
			err = parse_long(name, optarg, 0, 86400000, &v);
			c->hangup_after = (int)v;
			break;
		case O_MEDIA:
			if (!strcmp(optarg, "echo")) {
				c->media = PS_MEDIA_ECHO;
			} else if (!strcmp(optarg, "silence")) {
				c->media = PS_MEDIA_SILENCE;
			} else if (!strcmp(optarg, "stamp")) {
				c->media = PS_MEDIA_STAMP;
			} else if (!strncmp(optarg, "tone:", 5)) {
				c->media = PS_MEDIA_TONE;
				err = parse_long(name, optarg + 5, 1, 3999, &v);
				c->tone_hz = (int)v;
			} else if ((err = ps_fax_media_arg(c, optarg)) !=
				   ENOENT) {
				if (!err)
					c->media = PS_MEDIA_FAX;
			} else if ((err = ps_play_media_arg(&c->play,
							    optarg)) == 0) {
				c->media = PS_MEDIA_WAV;
			} else if (err == ENOENT) {
				err = bad(name, optarg, "echo, tone:HZ, silence, "
					  "wav:FILE, wav-once:FILE, fax-send:FILE "
					  "or fax-recv:FILE");
			}
			break;
		case O_DETECT:
			err = parse_long(name, optarg, 1, 3999, &v);
			c->detect_hz = (double)v;
			break;
		case O_ORIG:
			err = parse_long(name, optarg, 0, 100000000, &v);
			c->originate = (int)v;
			break;
		case O_RATE: {
			char *end;

			c->rate = strtod(optarg, &end);
			if (end == optarg || *end || !(c->rate > 0) ||
			    c->rate > 100000)
				err = bad(name, optarg,
					  "calls per second > 0 expected");
			have_rate = true;
			break;
		}
		case O_TO:
			if (!*optarg || strlen(optarg) >= sizeof(c->to))
				err = bad(name, optarg, "1 to 63 characters");
			tg_strlcpy(c->to, optarg, sizeof(c->to));
			have_to = true;
			break;
		case O_FROM:
			if (strlen(optarg) >= sizeof(c->from))
				err = bad(name, optarg, "up to 63 characters");
			tg_strlcpy(c->from, optarg, sizeof(c->from));
			break;
		case O_SCENARIO:
			err = load_scenario(c, optarg);
			break;
		case O_CONNECTED:
			if (!*optarg || strlen(optarg) >= sizeof(c->connected))
				err = bad(name, optarg, "1 to 63 characters");
			tg_strlcpy(c->connected, optarg, sizeof(c->connected));
			break;
		case O_SERVICE:
			c->service = true;
			break;
		case O_ORIG_CHAN:
			err = parse_long(name, optarg, 1, 30, &v);
			c->orig_chan = (int)v;
			break;
		case O_ORIG_PREF:
			c->orig_preferred = true;
			break;
		case O_GLARE:
			err = parse_long(name, optarg, 0, 100000, &v);
			c->glare = (int)v;
			break;
		case O_PICK:
			if (strcmp(optarg, "high"))
				err = bad(name, optarg, "high");
			c->pick_high = true;
			break;
		case O_OOS:
			err = parse_long(name, optarg, 1, 31, &v);
			c->oos_chan = (int)v;
			c->service = true;
			break;
		case O_OVERLAP:
			err = parse_long(name, optarg, 0, 30, &v);
			c->overlap = (int)v;
			break;
		case O_OVERLAP_RX:
			err = parse_long(name, optarg, 0, 30, &v);
			c->overlap_receive = (int)v;
			break;
		case O_OVERLAP_INBAND:
			c->overlap_inband = true;
			break;
		case O_T302:
			err = parse_long(name, optarg, 100, 600000, &v);
			c->t302 = (int)v;
			break;
		case O_FROMNAME:
			if (strlen(optarg) >= sizeof(c->from_name))
				err = bad(name, optarg, "up to 63 characters");
			tg_strlcpy(c->from_name, optarg, sizeof(c->from_name));
			break;
		case O_RESTRICT:
			c->from_restricted = true;
			break;
		case O_REDIR: {
			char *colon = strchr(optarg, ':');

			c->redirect_reason = 15;
			if (colon) {
				*colon = '\0';
				err = parse_long(name, colon + 1, 0, 15, &v);
				c->redirect_reason = (int)v;
			}
			if (!*optarg || strlen(optarg) >= sizeof(c->redirecting))
				err = bad(name, optarg, "1 to 63 characters");
			tg_strlcpy(c->redirecting, optarg,
				   sizeof(c->redirecting));
			break;
		}
		case O_STEP:
			err = parse_long(name, optarg, 1, 100000000, &v);
			c->to_step = (int)v;
			break;
		case O_FROMSTEP:
			err = parse_long(name, optarg, 1, 100000000, &v);
			c->from_step = (int)v;
			break;
		case O_TOPLAN:
		case O_FROMPLAN:
			err = parse_plan(name, optarg, opt == O_TOPLAN ?
					 &c->to_plan : &c->from_plan);
			break;
		case O_DTMF: {
			char spec[64];

			snprintf(spec, sizeof(spec), "dtmf=%s", optarg);
			if (strlen(optarg) > PS_DTMF_MAX ||
			    ps_play_option(&c->play, NULL, spec))
				err = bad(name, optarg, "0-9 * # A-D");
			break;
		}
		case O_DTMFAT:
			err = parse_long(name, optarg, 0, 3600000, &v);
			c->play.dtmf_at = (int)v;
			break;
		case O_HOLD:
			err = parse_long(name, optarg, 0, 86400000, &v);
			c->hold = (int)v;
			break;
		case O_DONE:
			c->exit_when_done = true;
			break;
		case O_DURATION:
			err = parse_long(name, optarg, 1, 100000000, &v);
			c->duration = (int)v;
			break;
		case O_VERBOSE:
			c->verbose = true;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "pstnsim: unknown or incomplete option "
				"'%s'\n", name);
			usage(stderr);
			err = EINVAL;
			break;
		}
	}
	if (err)
		return err;
	if (optind < argc) {
		fprintf(stderr, "pstnsim: unexpected argument '%s'\n",
			argv[optind]);
		return EINVAL;
	}
	if ((c->originate > 0 || c->glare > 0) && !have_to) {
		fprintf(stderr, "pstnsim: --originate and --glare need "
			"--to\n");
		return EINVAL;
	}
	if (c->originate > 0 && !have_rate)
		gw_notice("--rate not given: 1 call per second");
	if (c->to_step > 1 && !all_digits(c->to))
		return bad("to", c->to, "--to-step needs a number of digits");
	if (c->from_step > 1 && !all_digits(c->from))
		return bad("from", c->from,
			   "--from-step needs a number of digits");
	if (c->exit_when_done && c->originate <= 0) {
		fprintf(stderr,
			"pstnsim: --exit-when-done needs --originate\n");
		return EINVAL;
	}
	return 0;
}

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
	struct event *ev_int = NULL, *ev_term = NULL, *ev_dur = NULL;
	struct event *ev_usr1 = NULL, *ev_usr2 = NULL;
	int err, i, opened = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	gw_log_open(GW_LOG_NOTICE, false, "pstnsim");
	err = parse_args(&ps.conf, argc, argv);
	if (err)
		return 2;
	if (ps.conf.verbose)
		gw_log_level = GW_LOG_INFO;
	signal(SIGPIPE, SIG_IGN);
	pri_set_message(pri_msg_cb);
	pri_set_error(pri_err_cb);

	if (mkdir(ps.conf.dir, 0755) && errno != EEXIST) {
		gw_err("cannot create --dir %s: %m", ps.conf.dir);
		return 1;
	}
	err = ps_audio_init(&ps.conf);
	if (err)
		goto out;
	ps.base = event_base_new();
	if (!ps.base) {
		err = ENOMEM;
		goto out;
	}
	for (i = 0; i < ps.conf.nspans; i++) {
		err = ps_span_open(&ps.spans[i], i + 1);
		opened = i + 1;
		if (err)
			goto out;
	}
	ev_int = evsignal_new(ps.base, SIGINT, on_signal, NULL);
	ev_term = evsignal_new(ps.base, SIGTERM, on_signal, NULL);
	ev_usr1 = evsignal_new(ps.base, SIGUSR1, on_dcut, NULL);
	ev_usr2 = evsignal_new(ps.base, SIGUSR2, on_dcut, NULL);
	ps.ev_exit = evtimer_new(ps.base, on_exit_timer, NULL);
	if (!ev_int || !ev_term || !ev_usr1 || !ev_usr2 || !ps.ev_exit) {
		err = ENOMEM;
		goto out;
	}
	event_add(ev_int, NULL);
	event_add(ev_term, NULL);
	event_add(ev_usr1, NULL);
	event_add(ev_usr2, NULL);
	if (ps.conf.duration) {
		struct timeval tv = {ps.conf.duration, 0};

		ev_dur = evtimer_new(ps.base, on_duration, NULL);
		if (!ev_dur) {
			err = ENOMEM;
			goto out;
		}
		evtimer_add(ev_dur, &tv);
	}

	ps_emit("{\"event\":\"ready\",\"spans\":%d}", ps.conf.nspans);
	event_base_dispatch(ps.base);

	ps_emit("{\"event\":\"summary\",\"calls_in\":%u,\"calls_out\":%u,"
		"\"answered\":%u,\"failed\":%u}",
		ps.stats.calls_in, ps.stats.calls_out, ps.stats.answered,
		ps.stats.failed);
 out:
	for (i = 0; i < opened; i++)
		ps_span_close(&ps.spans[i]);
	if (ev_int)
		event_free(ev_int);
	if (ev_term)
		event_free(ev_term);
	if (ev_dur)
		event_free(ev_dur);
	if (ev_usr1)
		event_free(ev_usr1);
	if (ev_usr2)
		event_free(ev_usr2);
	if (ps.ev_exit)
		event_free(ps.ev_exit);
	if (ps.ev_orig)
		event_free(ps.ev_orig);
	if (ps.base)
		event_base_free(ps.base);
	ps_audio_close();
	for (size_t r = 0; r < ps.conf.nrules; r++)
		ps_play_conf_free(&ps.conf.rules[r].play);
	ps_play_conf_free(&ps.conf.play);
	free(ps.conf.rules);
	return err ? 1 : 0;
}
