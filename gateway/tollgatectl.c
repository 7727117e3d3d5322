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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

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
		"  show trunks            trunks, live calls, state, attempts\n"
		"  show calls             live calls\n"
		"  cdr tail [N]           the newest N call records (10)\n"
		"  reload                 re-read the configuration and the "
		"routing tables\n"
		"  route explain NUMBER [--from TRUNK] [--at TIME] "
		"[--calling N]\n"
		"                         how a call to NUMBER would be routed\n"
		"  version                daemon version\n"
		"database commands (then the daemon reloads):\n"
		"  did list | did add FIRST [LAST] TRUNK [user=U] [cid=N]\n"
		"             [failover=TRUNK[:NUMBER]] | did del FIRST\n"
		"  route list | route add NAME key=value... | route del NAME\n"
		"             keys: priority kind match src_trunks calling days "
		"hours tz\n"
		"             trunks lcr=yes|no failover t_trying t_progress "
		"t_answer\n"
		"             (ms) max_calls cps\n"
		"  rule list | rule add ingress|egress key=value... | rule del ID\n"
		"             keys: position name kind match trunk ton actions "
		"replace\n"
		"             number=called|calling (default called)\n"
		"  block list | block add called|calling MATCH [category=C] "
		"[trunk=T]\n"
		"             | block del ID\n"
		"  rates import CARRIER FILE [--replace] | rates list CARRIER "
		"[PREFIX]\n"
		"             | rates del CARRIER\n"
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

/* ---- database commands ----------------------------------------------------- */

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

static void print_row(const char *const *cols, size_t n, void *arg)
{
	(void)arg;
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? "\t" : "", cols[i]);
	printf("\n");
}

static int list(struct ctx *c, const char *header, const char *sql,
		const char *const *args, size_t nargs)
{
	char err[256];
	int e;

	printf("%s\n", header);
	e = cdr_db_query(c->db, sql, args, nargs, print_row, NULL, err,
			 sizeof(err));
	if (e) {
		fprintf(stderr, "tollgatectl: %s\n", err);
		return 1;
	}
	return 0;
}

static int write_then_reload(struct ctx *c, const char *sql,
			     const char *const *args, size_t nargs,
			     const char *what)
{
	char err[256];
	int e = cdr_db_write(c->db, sql, args, nargs, err, sizeof(err));

	if (e) {
		fprintf(stderr, "tollgatectl: %s: %s\n", what, err);
		return 1;
	}
	printf("%s\n", what);
	return reload(c);
}

/* key=value arguments against a list of allowed keys. */
struct kv {
	const char *key;
	const char *val;
	bool is_int;
};

static int parse_kv(struct kv *kv, size_t nkv, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		size_t k;

		if (!eq) {
			fprintf(stderr, "tollgatectl: '%s' is not key=value\n",
				argv[i]);
			return 2;
		}
		*eq = '\0';
		for (k = 0; k < nkv; k++)
			if (!strcmp(kv[k].key, argv[i]))
				break;
		if (k == nkv) {
			fprintf(stderr, "tollgatectl: unknown key '%s'\n",
				argv[i]);
			return 2;
		}
		kv[k].val = eq + 1;
		if (kv[k].is_int) {
			char *end;
			long long v = strtoll(eq + 1, &end, 10);

			if (!eq[1] || *end || v < 0) {
				fprintf(stderr, "tollgatectl: %s: '%s' is not "
					"a number >= 0\n", argv[i], eq + 1);
				return 2;
			}
		}
	}
	return 0;
}

static int cmd_route(struct ctx *c, int argc, char **argv)
{
	struct kv kv[] = {
		{"priority", "100", true}, {"kind", "any", false},
		{"match", "", false},	   {"src_trunks", "", false},
		{"calling", "", false},	   {"days", "", false},
		{"hours", "", false},	   {"tz", "", false},
		{"trunks", "", false},	   {"lcr", "no", false},
		{"failover", "", false},   {"t_trying", "0", true},
		{"t_progress", "0", true}, {"t_answer", "0", true},
		{"max_calls", "0", true},  {"cps", "0", true},
	};
	const char *args[17];
	int rc;

	if (argc >= 1 && !strcmp(argv[0], "list"))
		return list(c, "NAME\tPRIO\tKIND\tMATCH\tSRC\tCALLING\tDAYS\t"
			    "HOURS\tTZ\tTRUNKS\tLCR\tFAILOVER\tT_TRYING\t"
			    "T_PROGRESS\tT_ANSWER\tMAX_CALLS\tCPS",
			    "SELECT name, priority, kind, match, src_trunks, "
			    "calling, days, hours, tz, trunks, lcr, failover, "
			    "t_trying, t_progress, t_answer, max_calls, cps "
			    "FROM route ORDER BY priority, name", NULL, 0);
	if (argc == 2 && !strcmp(argv[0], "del")) {
		args[0] = argv[1];
		return write_then_reload(c, "DELETE FROM route WHERE name = ?1",
					 args, 1, "route deleted");
	}
	if (argc < 2 || strcmp(argv[0], "add")) {
		fprintf(stderr, "usage: route list | route add NAME "
			"key=value... | route del NAME\n");
		return 2;
	}
	rc = parse_kv(kv, 16, argc - 2, argv + 2);
	if (rc)
		return rc;
	if (strcasecmp(kv[9].val, "yes") && strcasecmp(kv[9].val, "no") &&
	    strcmp(kv[9].val, "1") && strcmp(kv[9].val, "0")) {
		fprintf(stderr, "tollgatectl: lcr: '%s' is not yes or no\n",
			kv[9].val);
		return 2;
	}
	kv[9].val = !strcasecmp(kv[9].val, "yes") || !strcmp(kv[9].val, "1")
			    ? "1" : "0";
	args[0] = argv[1];
	for (int i = 0; i < 16; i++)
		args[i + 1] = kv[i].val;
	return write_then_reload(
		c,
		"INSERT OR REPLACE INTO route (name, priority, kind, match, "
		"src_trunks, calling, days, hours, tz, trunks, lcr, failover, "
		"t_trying, t_progress, t_answer, max_calls, cps) VALUES (?1, "
		"CAST(?2 AS INTEGER), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
		"CAST(?11 AS INTEGER), ?12, CAST(?13 AS INTEGER), "
		"CAST(?14 AS INTEGER), CAST(?15 AS INTEGER), "
		"CAST(?16 AS INTEGER), CAST(?17 AS INTEGER))",
		args, 17, "route saved");
}

static int cmd_did(struct ctx *c, int argc, char **argv)
{
	const char *args[7];
	char fo[64] = "";
	char *num = NULL;
	int pos;

	if (argc >= 1 && !strcmp(argv[0], "list"))
		return list(c, "FIRST\tLAST\tTRUNK\tUSER\tCID\tFAILOVER_TRUNK\t"
			    "FAILOVER_NUMBER",
			    "SELECT first, last, trunk, user, cid, "
			    "failover_trunk, failover_number FROM did ORDER "
			    "BY first", NULL, 0);
	if (argc == 2 && !strcmp(argv[0], "del")) {
		args[0] = argv[1];
		return write_then_reload(c, "DELETE FROM did WHERE first = ?1",
					 args, 1, "DID range deleted");
	}
	if (argc < 3 || strcmp(argv[0], "add")) {
		fprintf(stderr, "usage: did list | did add FIRST [LAST] TRUNK "
			"[user=U] [cid=N] [failover=TRUNK[:NUMBER]] | did del "
			"FIRST\n");
		return 2;
	}
	args[0] = argv[1];
	/* FIRST [LAST] TRUNK: LAST is there when the third word is digits. */
	if (argc >= 4 && !strchr(argv[3], '=') && strspn(argv[2], "0123456789") ==
	    strlen(argv[2])) {
		args[1] = argv[2];
		args[2] = argv[3];
		pos = 4;
	} else {
		args[1] = argv[1];
		args[2] = argv[2];
		pos = 3;
	}
	args[3] = args[4] = args[5] = args[6] = "";
	for (int i = pos; i < argc; i++) {
		if (!strncmp(argv[i], "user=", 5)) {
			args[3] = argv[i] + 5;
		} else if (!strncmp(argv[i], "cid=", 4)) {
			args[4] = argv[i] + 4;
		} else if (!strncmp(argv[i], "failover=", 9)) {
			snprintf(fo, sizeof(fo), "%s", argv[i] + 9);
			num = strchr(fo, ':');
			if (num)
				*num++ = '\0';
			args[5] = fo;
			args[6] = num ? num : "";
		} else {
			fprintf(stderr, "tollgatectl: unknown DID option "
				"'%s'\n", argv[i]);
			return 2;
		}
	}
	return write_then_reload(c, "INSERT INTO did (first, last, trunk, "
				 "user, cid, failover_trunk, failover_number) "
				 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
				 args, 7, "DID range added");
}

static int cmd_rule(struct ctx *c, int argc, char **argv)
{
	struct kv kv[] = {
		{"position", "0", true}, {"name", "", false},
		{"kind", "any", false},	 {"match", "", false},
		{"trunk", "", false},	 {"ton", "", false},
		{"actions", "", false},	 {"replace", "", false},
		{"number", "called", false},
	};
	const char *args[10];
	int rc;

	if (argc >= 1 && !strcmp(argv[0], "list"))
		return list(c, "ID\tDIRECTION\tNUMBER\tPOSITION\tNAME\tKIND\t"
			    "MATCH\tTRUNK\tTON\tACTIONS\tREPLACE",
			    "SELECT id, direction, number, position, name, "
			    "kind, match, trunk, ton, actions, replace FROM "
			    "number_rule ORDER BY direction, position, id",
			    NULL, 0);
	if (argc == 2 && !strcmp(argv[0], "del")) {
		args[0] = argv[1];
		return write_then_reload(c, "DELETE FROM number_rule WHERE id "
					 "= CAST(?1 AS INTEGER)", args, 1,
					 "rule deleted");
	}
	if (argc < 2 || strcmp(argv[0], "add") ||
	    (strcmp(argv[1], "ingress") && strcmp(argv[1], "egress"))) {
		fprintf(stderr, "usage: rule list | rule add ingress|egress "
			"key=value... | rule del ID\n");
		return 2;
	}
	rc = parse_kv(kv, 9, argc - 2, argv + 2);
	if (rc)
		return rc;
	args[0] = argv[1];
	for (int i = 0; i < 9; i++)
		args[i + 1] = kv[i].val;
	return write_then_reload(c, "INSERT INTO number_rule (direction, "
				 "position, name, kind, match, trunk, ton, "
				 "actions, replace, number) VALUES (?1, CAST(?2 "
				 "AS INTEGER), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
				 args, 10, "rule added");
}

static int cmd_block(struct ctx *c, int argc, char **argv)
{
	const char *args[4];

	if (argc >= 1 && !strcmp(argv[0], "list"))
		return list(c, "ID\tKIND\tMATCH\tCATEGORY\tTRUNK",
			    "SELECT id, kind, match, category, trunk FROM "
			    "block ORDER BY id", NULL, 0);
	if (argc == 2 && !strcmp(argv[0], "del")) {
		args[0] = argv[1];
		return write_then_reload(c, "DELETE FROM block WHERE id = "
					 "CAST(?1 AS INTEGER)", args, 1,
					 "block deleted");
	}
	if (argc < 3 || strcmp(argv[0], "add") ||
	    (strcmp(argv[1], "called") && strcmp(argv[1], "calling"))) {
		fprintf(stderr, "usage: block list | block add called|calling "
			"MATCH [category=C] [trunk=T] | block del ID\n");
		return 2;
	}
	args[0] = argv[1];
	args[1] = argv[2];
	args[2] = args[3] = "";
	for (int i = 3; i < argc; i++) {
		if (!strncmp(argv[i], "category=", 9)) {
			args[2] = argv[i] + 9;
		} else if (!strncmp(argv[i], "trunk=", 6)) {
			args[3] = argv[i] + 6;
		} else {
			fprintf(stderr, "tollgatectl: unknown block option "
				"'%s'\n", argv[i]);
			return 2;
		}
	}
	return write_then_reload(c, "INSERT INTO block (kind, match, category, "
				 "trunk) VALUES (?1, ?2, ?3, ?4)", args, 4,
				 "block added");
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

	if (!f || fstat(fileno(f), &sb)) {
		if (f)
			fclose(f);
		return errno;
	}
	*buf = malloc((size_t)sb.st_size + 1);
	if (!*buf) {
		fclose(f);
		return ENOMEM;
	}
	*len = fread(*buf, 1, (size_t)sb.st_size, f);
	fclose(f);
	return 0;
}

static int cmd_rates(struct ctx *c, int argc, char **argv)
{
	const char *args[2];
	char err[256], *buf = NULL;
	size_t len = 0, ok = 0, bad = 0;
	bool replace = false;
	int e;

	if (argc >= 2 && !strcmp(argv[0], "list")) {
		args[0] = argv[1];
		args[1] = argc >= 3 ? argv[2] : "";
		return list(c, "PREFIX\tRATE\tCONN_FEE\tINCREMENTS\tFROM\t"
			    "UNTIL\tDESCRIPTION",
			    "SELECT prefix, printf('%d.%06d', rate / 1000000, "
			    "rate % 1000000), printf('%d.%06d', conn_fee / "
			    "1000000, conn_fee % 1000000), first_incr || '/' "
			    "|| next_incr, eff_from, eff_until, description "
			    "FROM rate WHERE carrier = ?1 AND (?2 = '' OR "
			    "prefix LIKE ?2 || '%') ORDER BY prefix, eff_from",
			    args, 2);
	}
	if (argc == 2 && !strcmp(argv[0], "del")) {
		args[0] = argv[1];
		return write_then_reload(c, "DELETE FROM rate WHERE carrier = "
					 "?1", args, 1, "rates deleted");
	}
	if (argc < 3 || strcmp(argv[0], "import") ||
	    (argc == 4 && strcmp(argv[3], "--replace")) || argc > 4) {
		fprintf(stderr, "usage: rates import CARRIER FILE [--replace] "
			"| rates list CARRIER [PREFIX] | rates del CARRIER\n");
		return 2;
	}
	replace = argc == 4;
	e = read_file(argv[2], &buf, &len);
	if (e) {
		fprintf(stderr, "tollgatectl: %s: %s\n", argv[2], strerror(e));
		return 1;
	}
	e = cdr_db_rates_import(c->db, argv[1], buf, len, replace,
				print_reject, NULL, &ok, &bad, err,
				sizeof(err));
	free(buf);
	if (e) {
		fprintf(stderr, "tollgatectl: %s: nothing imported: %s (%zu "
			"line(s) rejected)\n", argv[2], err, bad);
		return 1;
	}
	printf("imported %zu rate(s) for %s%s, %zu line(s) rejected\n", ok,
	       argv[1], replace ? " (replacing its old ones)" : "", bad);
	return reload(c);
}

static int local_command(struct ctx *c, int argc, char **argv, bool *handled)
{
	static char dbbuf[1024];
	int rc;

	*handled = true;
	if (!strcmp(argv[0], "route") && argc >= 2 &&
	    !strcmp(argv[1], "explain")) {
		*handled = false;
		return 0;
	}
	if (strcmp(argv[0], "did") && strcmp(argv[0], "route") &&
	    strcmp(argv[0], "rule") && strcmp(argv[0], "block") &&
	    strcmp(argv[0], "rates")) {
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
