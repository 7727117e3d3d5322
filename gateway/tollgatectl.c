/* gateway/tollgatectl.c  Command-line client: the daemon and the database
 *
 * Status and live state come from tollgated's control socket.  Routing
 * data (DIDs, routes, number rules, blocklists, rate decks) is written by
 * tollgatectl itself, straight into the database (SQLite WAL lets it do so
 * while the daemon runs), after which it asks the daemon to reload: a
 * million-row rate deck never passes through the signalling thread.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/util.h"
#include "cdr/cdr.h"

#define DEFAULT_SOCKET "./run/tollgated.ctl"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tollgatectl [-s SOCKET] [--db PATH] [--json] [COMMAND ...]\n"
		"daemon commands:\n"
		"  status                 daemon state and counters (default)\n"
		"  show spans             spans, D-channel state, idle channels\n"
		"  show channels [SPAN]   every B-channel and its state\n"
		"  show trunks            trunks, live calls, state, attempts, health\n"
		"  show registrations     our registrations with providers, and the\n"
		"                         bindings of PBXs registered with us\n"
		"  trunk register NAME    register trunk NAME now (after a rejection)\n"
		"  show calls             live calls\n"
		"  show e911              ELINs in use and whom a PSAP callback "
		"reaches\n"
		"  cdr tail [N]           the newest N call records (10)\n"
		"  reload                 re-read the configuration and the "
		"routing tables\n"
		"  route explain NUMBER [--from TRUNK] [--at TIME] "
		"[--calling N]\n"
		"                         how a call to NUMBER would be routed\n"
		"  version                daemon version\n"
		"database commands (then the daemon reloads):\n"
		"  did list | did add FIRST [LAST] TRUNK [user=U|last:N[:PFX]]"
		" [cid=N]\n"
		"             [failover=TRUNK[:NUMBER]] | did del FIRST\n"
		"  route list | route add NAME key=value... | route del NAME\n"
		"             add inserts, or replaces the whole route NAME; "
		"keys:\n"
		"             priority kind match src_trunks calling days "
		"hours tz\n"
		"             trunks lcr=yes|no failover t_trying t_progress "
		"t_answer\n"
		"             (ms) max_calls cps enum=DOMAIN\n"
		"  rule list | rule add ingress|egress key=value... | rule del ID\n"
		"             keys: position name kind match trunk ton actions "
		"replace\n"
		"             number=called|calling|diversion (default called)\n"
		"  block list | block add called|calling MATCH [category=C] "
		"[trunk=T]\n"
		"             | block del ID\n"
		"  rates import CARRIER FILE.csv [--replace]\n"
		"             one transaction; every rejected line is printed; "
		"without\n"
		"             --replace the file's prefixes replace the "
		"carrier's rows for\n"
		"             them and its other rows stay; exit status 1 when "
		"nothing\n"
		"             could be imported\n"
		"  rates list CARRIER [PREFIX]\n"
		"             rates under PREFIX, and those a number PREFIX "
		"would use\n"
		"  rates del CARRIER\n"
		"  e911 zone list | e911 zone add NAME key=value... | e911 zone "
		"del NAME\n"
		"             keys: country a1..a6 prd rd sts pod hno hns lmk "
		"loc flr unit\n"
		"             room bld nam pc location_id elins callback_trunk "
		"callback_user\n"
		"  e911 member list | e911 member add ZONE calling|subnet|trunk "
		"MATCH\n"
		"             [flr=F] [unit=U] [room=R]   (these callers' place "
		"in the zone)\n"
		"             | e911 member del ID\n"
		"  e911 validate          every zone complete, every ELIN a "
		"DID\n"
		"  e911 test CALLING [--from TRUNK] [--src IP]   (daemon) the "
		"zone, ELIN\n"
		"             and address an emergency call from CALLING would "
		"get\n"
		"  e911 callbacks         (daemon) = show e911\n"
		"Rows are checked as the daemon will check them, except that "
		"trunk\n"
		"names are checked only at its reload.\n"
		"The socket is %s unless -s or TOLLGATE_CTL says otherwise; the\n"
		"database is the daemon's unless --db names one.\n",
		DEFAULT_SOCKET);
}

/* Send one request; the body goes to @p out (or into @p cap).
 * @return 0 OK, 1 ERR, 3 no daemon or a broken reply. */
static int daemon_request(const char *path, const char *req, FILE *out,
			  char *cap, size_t capsize, bool quiet)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	bool first = true, ok = false;
	size_t len = strlen(req), got = 0;
	char buf[4096];
	ssize_t n;
	int fd;

	if (cap && capsize)
		cap[0] = '\0';
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "tollgatectl: socket path too long: %s\n",
			path);
		return 3;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (!quiet)
			fprintf(stderr,
				"tollgatectl: cannot reach tollgated at %s: "
				"%s\nIs the daemon running? (start it with "
				"./contrib/bootstrap run, or point -s at its "
				"control_socket)\n",
				path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 3;
	}
	if (write(fd, req, len) != (ssize_t)len) {
		fprintf(stderr, "tollgatectl: write: %s\n", strerror(errno));
		close(fd);
		return 3;
	}
	/* The reply: "OK\n" or "ERR\n", then the body until the daemon
	 * closes the connection. */
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		char *body = buf;
		size_t blen = (size_t)n;

		if (first) {
			char *nl = memchr(buf, '\n', blen);

			if (!nl) {
				fprintf(stderr, "tollgatectl: bad reply\n");
				close(fd);
				return 3;
			}
			ok = !strncmp(buf, "OK\n", 3);
			blen -= (size_t)(nl + 1 - buf);
			body = nl + 1;
			first = false;
		}
		if (cap) {
			size_t k = blen < capsize - 1 - got ? blen
							    : capsize - 1 - got;

			memcpy(cap + got, body, k);
			got += k;
			cap[got] = '\0';
		} else {
			fwrite(body, 1, blen, ok ? out : stderr);
		}
	}
	close(fd);
	if (first) {
		fprintf(stderr, "tollgatectl: no reply from tollgated\n");
		return 3;
	}
	return ok ? 0 : 1;
}

/* ---- database commands --------------------------------------------------- */

struct ctx {
	const char *sock;
	const char *db;
	bool json;
};

static int need_db(struct ctx *c, char *buf, size_t size)
{
	char *nl;

	if (c->db)
		return 0;
	if (daemon_request(c->sock, "text db\n", NULL, buf, size, true)) {
		fprintf(stderr, "tollgatectl: no daemon at %s to ask for its "
			"database: name it with --db PATH\n", c->sock);
		return 2;
	}
	nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	c->db = buf;
	return 0;
}

/* After a write: the daemon builds a new snapshot, or learns of it at
 * its next start. */
static int reload(struct ctx *c)
{
	int rc = daemon_request(c->sock, "text reload\n", stdout, NULL, 0,
				true);

	if (rc == 3)
		printf("no daemon reachable at %s: the change applies at its "
		       "next start\n", c->sock);
	return rc == 1 ? 1 : 0;
}

/* The header goes out with the first row, or alone for an empty table,
 * but never before an error. */
struct listing {
	const char *header;
	bool started;
};

static void print_row(const char *const *cols, size_t n, void *arg)
{
	struct listing *l = arg;

	if (!l->started) {
		printf("%s\n", l->header);
		l->started = true;
	}
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? "\t" : "", cols[i]);
	printf("\n");
}

static int list(struct ctx *c, const char *header, const char *sql,
		const char *const *args, size_t nargs)
{
	struct listing l = {header, false};
	char err[256];
	int e;

	e = cdr_db_query(c->db, sql, args, nargs, print_row, &l, err,
			 sizeof(err));
	if (e) {
		fprintf(stderr, "tollgatectl: %s\n", err);
		return 1;
	}
	if (!l.started)
		printf("%s\n", header);
	return 0;
}

/* A write has been made (or refused: @p e, @p err). */
static int written(struct ctx *c, int e, const char *err, const char *done)
{
	if (e) {
		fprintf(stderr, "tollgatectl: %s\n", err);
		return 1;
	}
	printf("%s\n", done);
	return reload(c);
}

static int delete_row(struct ctx *c, const char *sql, const char *key,
		      const char *what)
{
	const char *args[1] = {key};
	char err[256], done[128];
	int e;

	e = cdr_db_write(c->db, sql, args, 1, err, sizeof(err));
	if (e == ENOENT)
		snprintf(err, sizeof(err), "%s %s: no such row", what, key);
	snprintf(done, sizeof(done), "%s %s deleted", what, key);
	return written(c, e, err, done);
}

/* ---- key=value arguments into a row struct ------------------------------- */

enum ftype { F_STR, F_UINT, F_BOOL };

struct field {
	const char *key;
	size_t off, size; /* of the member */
	enum ftype type;
};

#define FLD(s, k, m, t)                                                  \
	{k, offsetof(struct s, m), sizeof(((struct s *)0)->m), t}
#define STR(s, m) FLD(s, #m, m, F_STR)

static int set_field(void *obj, const struct field *f, const char *val)
{
	char *dst = (char *)obj + f->off;
	unsigned long long v;
	char *end;

	switch (f->type) {
	case F_STR:
		if (strlen(val) >= f->size) {
			fprintf(stderr, "tollgatectl: %s: longer than %zu "
				"characters\n", f->key, f->size - 1);
			return 2;
		}
		memcpy(dst, val, strlen(val) + 1);
		return 0;
	case F_BOOL:
		if (!strcasecmp(val, "yes") || !strcmp(val, "1"))
			*(bool *)(void *)dst = true;
		else if (!strcasecmp(val, "no") || !strcmp(val, "0"))
			*(bool *)(void *)dst = false;
		else
			break;
		return 0;
	case F_UINT:
		errno = 0;
		v = strtoull(val, &end, 10);
		if (!*val || *end || *val == '-' || errno || v > UINT_MAX)
			break;
		*(unsigned *)(void *)dst = (unsigned)v;
		return 0;
	}
	fprintf(stderr, "tollgatectl: %s: '%s' is not %s\n", f->key, val,
		f->type == F_BOOL ? "yes or no" : "a number >= 0");
	return 2;
}

/* Every word of @p argv must be key=value with a key of @p f, or one of
 * the @p extra keys (their values go to @p extra_val). */
static int set_fields(void *obj, const struct field *f, size_t nf,
		      const char *const *extra, const char **extra_val,
		      int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		size_t k, klen;

		if (!eq) {
			fprintf(stderr, "tollgatectl: '%s' is not key=value\n",
				argv[i]);
			return 2;
		}
		klen = (size_t)(eq - argv[i]);
		for (k = 0; extra && extra[k]; k++)
			if (strlen(extra[k]) == klen &&
			    !strncmp(extra[k], argv[i], klen))
				break;
		if (extra && extra[k]) {
			extra_val[k] = eq + 1;
			continue;
		}
		for (k = 0; k < nf; k++)
			if (strlen(f[k].key) == klen &&
			    !strncmp(f[k].key, argv[i], klen))
				break;
		if (k == nf) {
			fprintf(stderr, "tollgatectl: unknown key '%.*s'\n",
				(int)klen, argv[i]);
			return 2;
		}
		if (set_field(obj, &f[k], eq + 1))
			return 2;
	}
	return 0;
}

/* ---- did, route, rule, block, rates -------------------------------------- */

static int cmd_route(struct ctx *c, int argc, char **argv)
{
	static const struct field f[] = {
		FLD(dp_route_row, "priority", priority, F_UINT),
		STR(dp_route_row, kind),
		STR(dp_route_row, match),
		STR(dp_route_row, src_trunks),
		STR(dp_route_row, calling),
		STR(dp_route_row, days),
		STR(dp_route_row, hours),
		STR(dp_route_row, tz),
		STR(dp_route_row, trunks),
		FLD(dp_route_row, "lcr", lcr, F_BOOL),
		STR(dp_route_row, failover),
		FLD(dp_route_row, "t_trying", t_trying_ms, F_UINT),
		FLD(dp_route_row, "t_progress", t_progress_ms, F_UINT),
		FLD(dp_route_row, "t_answer", t_answer_ms, F_UINT),
		FLD(dp_route_row, "max_calls", max_calls, F_UINT),
		FLD(dp_route_row, "cps", cps, F_UINT),
		FLD(dp_route_row, "enum", enum_domain, F_STR),
	};
	struct dp_route_row r;
	char err[512], done[96];
	int rc;

	if (argc == 1 && !strcmp(argv[0], "list"))
		return list(c, "NAME\tPRIO\tKIND\tMATCH\tSRC\tCALLING\tDAYS\t"
			    "HOURS\tTZ\tTRUNKS\tLCR\tFAILOVER\tT_TRYING\t"
			    "T_PROGRESS\tT_ANSWER\tMAX_CALLS\tCPS\tENUM",
			    "SELECT name, priority, kind, match, src_trunks, "
			    "calling, days, hours, tz, trunks, lcr, failover, "
			    "t_trying, t_progress, t_answer, max_calls, cps, "
			    "enum FROM route ORDER BY priority, name", NULL, 0);
	if (argc == 2 && !strcmp(argv[0], "del"))
		return delete_row(c, "DELETE FROM route WHERE name = ?1",
				  argv[1], "route");
	if (argc < 2 || strcmp(argv[0], "add")) {
		fprintf(stderr, "usage: route list | route add NAME "
			"key=value... | route del NAME\n");
		return 2;
	}
	/* The table's defaults: a route is replaced as a whole. */
	memset(&r, 0, sizeof(r));
	r.priority = 100;
	strcpy(r.kind, "any");
	if (strlen(argv[1]) >= sizeof(r.name)) {
		fprintf(stderr, "tollgatectl: route name longer than %zu "
			"characters\n", sizeof(r.name) - 1);
		return 2;
	}
	strcpy(r.name, argv[1]);
	rc = set_fields(&r, f, TG_ARRAY_SIZE(f), NULL, NULL, argc - 2,
			argv + 2);
	if (rc)
		return rc;
	snprintf(done, sizeof(done), "route %s saved", r.name);
	rc = cdr_db_route_put(c->db, &r, err, sizeof(err));
	return written(c, rc, err, done);
}

static int cmd_did(struct ctx *c, int argc, char **argv)
{
	static const struct field f[] = {
		STR(dp_did_range, user),
		STR(dp_did_range, cid),
	};
	static const char *const extra[] = {"failover", NULL};
	const char *fo[1] = {NULL};
	struct dp_did_range d;
	char err[512], done[96];
	const char *last;
	int pos, rc;

	if (argc == 1 && !strcmp(argv[0], "list"))
		return list(c, "FIRST\tLAST\tTRUNK\tUSER\tCID\tFAILOVER_TRUNK\t"
			    "FAILOVER_NUMBER",
			    "SELECT first, last, trunk, user, cid, "
			    "failover_trunk, failover_number FROM did ORDER "
			    "BY first", NULL, 0);
	if (argc == 2 && !strcmp(argv[0], "del"))
		return delete_row(c, "DELETE FROM did WHERE first = ?1",
				  argv[1], "DID range");
	if (argc < 3 || strcmp(argv[0], "add")) {
		fprintf(stderr, "usage: did list | did add FIRST [LAST] TRUNK "
			"[user=U] [cid=N] [failover=TRUNK[:NUMBER]] | did del "
			"FIRST\n");
		return 2;
	}
	/* FIRST [LAST] TRUNK: LAST is there when two plain words follow
	 * FIRST and the first of them is digits. */
	if (argc >= 4 && !strchr(argv[3], '=') &&
	    strspn(argv[2], "0123456789") == strlen(argv[2])) {
		last = argv[2];
		pos = 3;
	} else {
		last = argv[1];
		pos = 2;
	}
	memset(&d, 0, sizeof(d));
	if (strlen(argv[1]) >= sizeof(d.first) ||
	    strlen(last) >= sizeof(d.last) ||
	    strlen(argv[pos]) >= sizeof(d.trunk)) {
		fprintf(stderr, "tollgatectl: numbers and trunk names are at "
			"most 31 characters\n");
		return 2;
	}
	strcpy(d.first, argv[1]);
	strcpy(d.last, last);
	strcpy(d.trunk, argv[pos]);
	rc = set_fields(&d, f, TG_ARRAY_SIZE(f), extra, fo, argc - pos - 1,
			argv + pos + 1);
	if (rc)
		return rc;
	if (fo[0]) {
		const char *colon = strchr(fo[0], ':');
		size_t tlen = colon ? (size_t)(colon - fo[0]) : strlen(fo[0]);

		if (tlen >= sizeof(d.failover_trunk) ||
		    (colon && strlen(colon + 1) >= sizeof(d.failover_number))) {
			fprintf(stderr, "tollgatectl: failover: trunk and "
				"number are at most 31 characters\n");
			return 2;
		}
		memcpy(d.failover_trunk, fo[0], tlen);
		if (colon)
			strcpy(d.failover_number, colon + 1);
	}
	snprintf(done, sizeof(done), "DID range %s-%s added", d.first,
		 d.last);
	rc = cdr_db_did_add(c->db, &d, err, sizeof(err));
	return written(c, rc, err, done);
}

static int cmd_rule(struct ctx *c, int argc, char **argv)
{
	static const struct field f[] = {
		STR(dp_rule_row, name),	 STR(dp_rule_row, kind),
		STR(dp_rule_row, match), STR(dp_rule_row, trunk),
		STR(dp_rule_row, ton),	 STR(dp_rule_row, actions),
		STR(dp_rule_row, replace),
	};
	static const char *const extra[] = {"position", "number", NULL};
	const char *ev[2] = {"0", "called"};
	struct dp_rule_row r;
	char err[512], done[64], *end;
	long long position;
	int64_t id = 0;
	int rc;

	if (argc == 1 && !strcmp(argv[0], "list"))
		return list(c, "ID\tDIRECTION\tNUMBER\tPOSITION\tNAME\tKIND\t"
			    "MATCH\tTRUNK\tTON\tACTIONS\tREPLACE",
			    "SELECT id, direction, number, position, name, "
			    "kind, match, trunk, ton, actions, replace FROM "
			    "number_rule ORDER BY direction, number, position, "
			    "id", NULL, 0);
	if (argc == 2 && !strcmp(argv[0], "del"))
		return delete_row(c, "DELETE FROM number_rule WHERE id = "
				  "CAST(?1 AS INTEGER)", argv[1], "rule");
	if (argc < 2 || strcmp(argv[0], "add") ||
	    (strcmp(argv[1], "ingress") && strcmp(argv[1], "egress"))) {
		fprintf(stderr, "usage: rule list | rule add ingress|egress "
			"key=value... | rule del ID\n");
		return 2;
	}
	memset(&r, 0, sizeof(r));
	strcpy(r.kind, "any");
	rc = set_fields(&r, f, TG_ARRAY_SIZE(f), extra, ev, argc - 2,
			argv + 2);
	if (rc)
		return rc;
	errno = 0;
	position = strtoll(ev[0], &end, 10);
	if (!*ev[0] || *end || errno) {
		fprintf(stderr, "tollgatectl: position: '%s' is not a "
			"number\n", ev[0]);
		return 2;
	}
	rc = cdr_db_rule_add(c->db, argv[1], ev[1], position, &r, &id, err,
			     sizeof(err));
	snprintf(done, sizeof(done), "rule %lld added", (long long)id);
	return written(c, rc, err, done);
}

static int cmd_block(struct ctx *c, int argc, char **argv)
{
	static const struct field f[] = {
		STR(dp_block_row, category),
		STR(dp_block_row, trunk),
	};
	struct dp_block_row b;
	char err[512], done[64];
	int64_t id = 0;
	int rc;

	if (argc == 1 && !strcmp(argv[0], "list"))
		return list(c, "ID\tKIND\tMATCH\tCATEGORY\tTRUNK",
			    "SELECT id, kind, match, category, trunk FROM "
			    "block ORDER BY id", NULL, 0);
	if (argc == 2 && !strcmp(argv[0], "del"))
		return delete_row(c, "DELETE FROM block WHERE id = "
				  "CAST(?1 AS INTEGER)", argv[1], "block");
	if (argc < 3 || strcmp(argv[0], "add") ||
	    (strcmp(argv[1], "called") && strcmp(argv[1], "calling"))) {
		fprintf(stderr, "usage: block list | block add called|calling "
			"MATCH [category=C] [trunk=T] | block del ID\n");
		return 2;
	}
	memset(&b, 0, sizeof(b));
	strcpy(b.kind, argv[1]);
	if (strlen(argv[2]) >= sizeof(b.match)) {
		fprintf(stderr, "tollgatectl: MATCH longer than %zu "
			"characters\n", sizeof(b.match) - 1);
		return 2;
	}
	strcpy(b.match, argv[2]);
	rc = set_fields(&b, f, TG_ARRAY_SIZE(f), NULL, NULL, argc - 3,
			argv + 3);
	if (rc)
		return rc;
	rc = cdr_db_block_add(c->db, &b, &id, err, sizeof(err));
	snprintf(done, sizeof(done), "block %lld added", (long long)id);
	return written(c, rc, err, done);
}

static void print_validation(const char *what, void *arg)
{
	unsigned *n = arg;

	printf("%s\n", what);
	(*n)++;
}

static int cmd_e911(struct ctx *c, int argc, char **argv)
{
	static const struct field f[] = {
		STR(e911_zone_row, country),
		STR(e911_zone_row, a1),
		STR(e911_zone_row, a2),
		STR(e911_zone_row, a3),
		STR(e911_zone_row, a4),
		STR(e911_zone_row, a5),
		STR(e911_zone_row, a6),
		STR(e911_zone_row, prd),
		STR(e911_zone_row, pod),
		STR(e911_zone_row, sts),
		STR(e911_zone_row, rd),
		STR(e911_zone_row, hno),
		STR(e911_zone_row, hns),
		STR(e911_zone_row, lmk),
		STR(e911_zone_row, loc),
		STR(e911_zone_row, flr),
		STR(e911_zone_row, unit),
		STR(e911_zone_row, room),
		STR(e911_zone_row, bld),
		STR(e911_zone_row, nam),
		STR(e911_zone_row, pc),
		STR(e911_zone_row, location_id),
		STR(e911_zone_row, elins),
		STR(e911_zone_row, callback_trunk),
		STR(e911_zone_row, callback_user),
	};
	struct e911_zone_row z;
	struct e911_member_row m;
	char err[512], done[96];
	int64_t id = 0;
	int rc;

	/* "e911 zones" is the same as "e911 zone list". */
	if ((argc == 2 && !strcmp(argv[0], "zone") &&
	     !strcmp(argv[1], "list")) ||
	    (argc == 1 && !strcmp(argv[0], "zones")))
		return list(c, "NAME\tELINS\tADDRESS\tLOCATION_ID\t"
			    "CALLBACK", "SELECT name, elins, trim(hno || hns "
			    "|| ' ' || prd || ' ' || rd || ' ' || sts || ' ' "
			    "|| pod) || ', ' || a3 || ', ' || a1 || ' ' || pc "
			    "|| ' ' || country || CASE WHEN flr <> '' THEN "
			    "', floor ' || flr ELSE '' END || CASE WHEN room "
			    "<> '' THEN ', room ' || room ELSE '' END, "
			    "location_id, callback_trunk || ' ' || "
			    "callback_user FROM e911_zone ORDER BY name",
			    NULL, 0);
	if (argc == 3 && !strcmp(argv[0], "zone") && !strcmp(argv[1], "del"))
		return delete_row(c, "DELETE FROM e911_zone WHERE name = ?1 "
				  "AND NOT EXISTS (SELECT 1 FROM e911_member "
				  "WHERE zone = ?1)", argv[2],
				  "e911 zone without members");
	if (argc >= 3 && !strcmp(argv[0], "zone") && !strcmp(argv[1], "add")) {
		memset(&z, 0, sizeof(z));
		if (strlen(argv[2]) >= sizeof(z.name)) {
			fprintf(stderr, "tollgatectl: zone name longer than "
				"%zu characters\n", sizeof(z.name) - 1);
			return 2;
		}
		strcpy(z.name, argv[2]);
		rc = set_fields(&z, f, TG_ARRAY_SIZE(f), NULL, NULL, argc - 3,
				argv + 3);
		if (rc)
			return rc;
		rc = cdr_db_zone_put(c->db, &z, err, sizeof(err));
		snprintf(done, sizeof(done), "e911 zone %s saved", z.name);
		return written(c, rc, err, done);
	}
	if (argc == 2 && !strcmp(argv[0], "member") &&
	    !strcmp(argv[1], "list"))
		return list(c, "ID\tZONE\tKIND\tMATCH\tFLR\tUNIT\tROOM",
			    "SELECT id, zone, kind, match, flr, unit, room "
			    "FROM e911_member ORDER BY zone, id", NULL, 0);
	if (argc == 3 && !strcmp(argv[0], "member") &&
	    !strcmp(argv[1], "del"))
		return delete_row(c, "DELETE FROM e911_member WHERE id = "
				  "CAST(?1 AS INTEGER)", argv[2],
				  "e911 member");
	if (argc >= 5 && argc <= 8 && !strcmp(argv[0], "member") &&
	    !strcmp(argv[1], "add")) {
		memset(&m, 0, sizeof(m));
		if (strlen(argv[2]) >= sizeof(m.zone) ||
		    strlen(argv[3]) >= sizeof(m.kind) ||
		    strlen(argv[4]) >= sizeof(m.match)) {
			fprintf(stderr, "tollgatectl: a word is too long\n");
			return 2;
		}
		strcpy(m.zone, argv[2]);
		strcpy(m.kind, argv[3]);
		strcpy(m.match, argv[4]);
		/* flr= unit= room=: where in the zone these callers are. */
		for (int i = 5; i < argc; i++) {
			const char *eq = strchr(argv[i], '=');
			char *dst = NULL;
			size_t size = 0;

			if (eq && !strncmp(argv[i], "flr=", 4))
				dst = m.flr, size = sizeof(m.flr);
			else if (eq && !strncmp(argv[i], "unit=", 5))
				dst = m.unit, size = sizeof(m.unit);
			else if (eq && !strncmp(argv[i], "room=", 5))
				dst = m.room, size = sizeof(m.room);
			if (!dst || strlen(eq + 1) >= size) {
				fprintf(stderr, "tollgatectl: '%s': want "
					"flr=, unit= or room= (at most %zu "
					"characters)\n", argv[i],
					sizeof(m.flr) - 1);
				return 2;
			}
			strcpy(dst, eq + 1);
		}
		rc = cdr_db_member_add(c->db, &m, &id, err, sizeof(err));
		snprintf(done, sizeof(done), "e911 member %lld added",
			 (long long)id);
		return written(c, rc, err, done);
	}
	if (argc == 1 && !strcmp(argv[0], "validate")) {
		unsigned problems = 0;

		rc = cdr_e911_validate(c->db, print_validation, &problems, err,
				       sizeof(err));
		if (rc) {
			fprintf(stderr, "tollgatectl: %s\n", err);
			return 1;
		}
		if (!problems)
			printf("e911: every zone is complete and every ELIN "
			       "is a DID\n");
		return problems ? 1 : 0;
	}
	fprintf(stderr, "usage: e911 zone list | zone add NAME key=value... | "
		"zone del NAME\n"
		"       e911 member list | member add ZONE calling|subnet|trunk "
		"MATCH [flr=F] [unit=U] [room=R] | member del ID\n"
		"       e911 validate\n");
	return 2;
}

static void print_reject(unsigned line, const char *why, void *arg)
{
	(void)arg;
	if (line)
		printf("line %u: %s\n", line, why);
	else
		printf("file: %s\n", why);
}

static int read_file(const char *path, char **buf, size_t *len)
{
	struct stat sb;
	FILE *f = fopen(path, "rb");
	int e;

	if (!f)
		return errno;
	if (fstat(fileno(f), &sb)) {
		e = errno;
		fclose(f);
		return e;
	}
	*buf = malloc((size_t)sb.st_size + 1);
	if (!*buf) {
		fclose(f);
		return ENOMEM;
	}
	*len = fread(*buf, 1, (size_t)sb.st_size, f);
	e = ferror(f) ? EIO : 0;
	fclose(f);
	return e;
}

static int rates_import(struct ctx *c, const char *carrier, const char *file,
			bool replace)
{
	char err[256], *buf = NULL;
	size_t len = 0, ok = 0, bad = 0;
	int e;

	e = read_file(file, &buf, &len);
	if (e) {
		free(buf);
		fprintf(stderr, "tollgatectl: %s: %s\n", file, strerror(e));
		return 1;
	}
	e = cdr_db_rates_import(c->db, carrier, buf, len, replace,
				print_reject, NULL, &ok, &bad, err,
				sizeof(err));
	free(buf);
	if (e) {
		fprintf(stderr, "tollgatectl: %s: nothing imported: %s (%zu "
			"line(s) rejected)\n", file, err, bad);
		return 1;
	}
	printf("imported %zu rate(s) for %s%s, %zu line(s) rejected\n", ok,
	       carrier, replace ? " (its old rates replaced)" : "", bad);
	return reload(c);
}

static int cmd_rates(struct ctx *c, int argc, char **argv)
{
	const char *args[2];

	if ((argc == 2 || argc == 3) && !strcmp(argv[0], "list")) {
		args[0] = argv[1];
		args[1] = argc == 3 ? argv[2] : "";
		if (strspn(args[1], "0123456789") != strlen(args[1])) {
			fprintf(stderr, "tollgatectl: PREFIX must be digits\n");
			return 2;
		}
		/* The prefixes starting with PREFIX, and those a number
		 * PREFIX starts with: what a call to it could be rated at. */
		return list(c, "PREFIX\tRATE\tCONN_FEE\tINCREMENTS\tFROM\t"
			    "UNTIL\tDESCRIPTION",
			    "WITH k(n) AS (SELECT 1 UNION ALL SELECT n + 1 "
			    "FROM k WHERE n < length(?2) - 1), "
			    "r AS (SELECT * FROM rate WHERE carrier = ?1 AND "
			    "prefix >= ?2 AND prefix < ?2 || ':' UNION ALL "
			    "SELECT * FROM rate WHERE carrier = ?1 AND prefix "
			    "IN (SELECT substr(?2, 1, n) FROM k)) "
			    "SELECT prefix, printf('%d.%06d', rate / 1000000, "
			    "rate % 1000000), printf('%d.%06d', conn_fee / "
			    "1000000, conn_fee % 1000000), first_incr || '/' "
			    "|| next_incr, CASE eff_from WHEN 0 THEN '-' ELSE "
			    "datetime(eff_from, 'unixepoch') END, CASE "
			    "eff_until WHEN 0 THEN '-' ELSE datetime(eff_until, "
			    "'unixepoch') END, description FROM r ORDER BY "
			    "prefix, eff_from",
			    args, 2);
	}
	if (argc == 2 && !strcmp(argv[0], "del"))
		return delete_row(c, "DELETE FROM rate WHERE carrier = ?1",
				  argv[1], "rates of");
	if (argc == 3 && !strcmp(argv[0], "import"))
		return rates_import(c, argv[1], argv[2], false);
	if (argc == 4 && !strcmp(argv[0], "import") &&
	    !strcmp(argv[3], "--replace"))
		return rates_import(c, argv[1], argv[2], true);
	fprintf(stderr, "usage: rates import CARRIER FILE [--replace] | rates "
		"list CARRIER [PREFIX] | rates del CARRIER\n");
	return 2;
}

static int local_command(struct ctx *c, int argc, char **argv, bool *handled)
{
	static char dbbuf[1024];
	int rc;

	*handled = true;
	if ((!strcmp(argv[0], "route") && argc >= 2 &&
	     !strcmp(argv[1], "explain")) ||
	    (!strcmp(argv[0], "e911") && argc >= 2 &&
	     (!strcmp(argv[1], "test") || !strcmp(argv[1], "callbacks")))) {
		*handled = false;
		return 0;
	}
	if (strcmp(argv[0], "did") && strcmp(argv[0], "route") &&
	    strcmp(argv[0], "rule") && strcmp(argv[0], "block") &&
	    strcmp(argv[0], "rates") && strcmp(argv[0], "e911")) {
		*handled = false;
		return 0;
	}
	rc = need_db(c, dbbuf, sizeof(dbbuf));
	if (rc)
		return rc;
	if (!strcmp(argv[0], "did"))
		return cmd_did(c, argc - 1, argv + 1);
	if (!strcmp(argv[0], "route"))
		return cmd_route(c, argc - 1, argv + 1);
	if (!strcmp(argv[0], "rule"))
		return cmd_rule(c, argc - 1, argv + 1);
	if (!strcmp(argv[0], "block"))
		return cmd_block(c, argc - 1, argv + 1);
	if (!strcmp(argv[0], "e911"))
		return cmd_e911(c, argc - 1, argv + 1);
	return cmd_rates(c, argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"socket", required_argument, NULL, 's'},
		{"db", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct ctx ctx = {getenv("TOLLGATE_CTL"), NULL, false};
	char req[1024];
	size_t len = 0;
	bool handled;
	int c, rc;

	if (!ctx.sock || !*ctx.sock)
		ctx.sock = DEFAULT_SOCKET;
	/* '+': options end at the command, whose own words may look like
	 * options (route explain ... --from pbx). */
	while ((c = getopt_long(argc, argv, "+js:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			ctx.json = true;
			break;
		case 's':
			ctx.sock = optarg;
			break;
		case 'd':
			ctx.db = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		rc = local_command(&ctx, argc - optind, argv + optind,
				   &handled);
		if (handled)
			return rc;
	}
	len = (size_t)snprintf(req, sizeof(req), "%s",
			       ctx.json ? "json" : "text");
	if (optind == argc)
		len += (size_t)snprintf(req + len, sizeof(req) - len,
					" status");
	for (int i = optind; i < argc && len < sizeof(req); i++)
		len += (size_t)snprintf(req + len, sizeof(req) - len, " %s",
					argv[i]);
	if (len >= sizeof(req) - 1) {
		fprintf(stderr, "tollgatectl: command too long\n");
		return 2;
	}
	req[len++] = '\n';
	req[len] = '\0';
	return daemon_request(ctx.sock, req, stdout, NULL, 0, false);
}
