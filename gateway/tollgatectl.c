/* gateway/tollgatectl.c  Command-line client of tollgated's control socket */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCKET "./run/tollgated.ctl"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tollgatectl [-s SOCKET] [--json] [COMMAND ...]\n"
		"commands:\n"
		"  status                 daemon state and counters (default)\n"
		"  show spans             spans, D-channel state, idle channels\n"
		"  show channels [SPAN]   every B-channel and its state\n"
		"  show trunks            trunks and their live calls\n"
		"  show calls             live calls\n"
		"  cdr tail [N]           the newest N call records (10)\n"
		"  reload                 re-read the configuration and DIDs\n"
		"  version                daemon version\n"
		"The socket is %s unless -s or TOLLGATE_CTL says otherwise.\n",
		DEFAULT_SOCKET);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"socket", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = getenv("TOLLGATE_CTL");
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char req[512], buf[4096];
	size_t len = 0;
	bool json = false, first = true, ok = false;
	int c, fd;
	ssize_t n;

	if (!path || !*path)
		path = DEFAULT_SOCKET;
	while ((c = getopt_long(argc, argv, "js:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 's':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	len = (size_t)snprintf(req, sizeof(req), "%s", json ? "json" : "text");
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

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "tollgatectl: socket path too long: %s\n",
			path);
		return 2;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr,
			"tollgatectl: cannot reach tollgated at %s: %s\n"
			"Is the daemon running? (start it with "
			"./contrib/bootstrap run, or point -s at its "
			"control_socket)\n",
			path, strerror(errno));
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
		fwrite(body, 1, blen, ok ? stdout : stderr);
	}
	close(fd);
	if (first) {
		fprintf(stderr, "tollgatectl: no reply from tollgated\n");
		return 3;
	}
	return ok ? 0 : 1;
}
