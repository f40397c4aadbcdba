/*
 * cmd_auth.c - `registry user add|del|list` and `registry cert`.
 *
 *   registry user add NAME [--password-stdin] [--cost N] [COMMON]
 *   registry user del NAME [COMMON]
 *   registry user list [COMMON]
 *   registry user unlock NAME | --address ADDR [COMMON]
 *   registry cert NAME... [--out DIR] [--days N] [COMMON]
 *   COMMON: -c FILE (configuration), -d DIR (data folder), --users FILE
 *
 * The users file is the one `registry serve` would use with the same
 * configuration (auth_users, else DATA/htpasswd); it is rewritten
 * atomically, and a running registry picks the change up by itself. A
 * password is read from the terminal (twice, without echo) or, with
 * --password-stdin, as the first line of standard input. Certificates go
 * to --out, else DATA/tls.
 */
#include "cmd_auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "../auth/auth.h"
#include "../auth/cert.h"
#include "../auth/htpasswd.h"
#include "../auth/rules.h"
#include "cli.h"
#include "config.h"

#define EXIT_FAILED CLI_EXIT_FAILED
#define EXIT_USAGE CLI_EXIT_USAGE

void cmd_auth_usage(FILE *f)
{
	fprintf(f,
		"user add NAME      add a user to the users file, or set their password\n"
		"  --password-stdin    read the password from standard input (else asked twice)\n"
		"  --cost N            bcrypt cost, %d-%d (default %d)\n"
		"user del NAME      remove a user\n"
		"user list          list the users\n"
		"user unlock NAME   lift NAME's failed-login lockout at every address, at once\n"
		"  --address ADDR      instead: lift every lockout of that client address\n"
		"  user takes -c FILE and -d DIR as serve does, to find the users file\n"
		"  (auth_users, else DATA/%s), or --users FILE\n"
		"cert HOST|IP...    write a CA (kept if there) and a server certificate for these\n"
		"                   names into DATA/tls (or --out DIR); --days N (default %d)\n",
		AUTH_BCRYPT_COST_MIN, AUTH_BCRYPT_COST_MAX, AUTH_BCRYPT_COST_DEFAULT,
		CONFIG_USERS_FILE, AUTH_CERT_DAYS_DEFAULT);
}

/* Options shared by the commands, and the positional arguments. */
typedef struct {
	const char *file, *data, *users, *out, *cost, *days, *address;
	bool password_stdin;
	char **pos;
	int npos;
} opts;

/* Parses argv into o (cli_parse's outcomes). */
static int parse_opts(const char *cmd, int argc, char **argv, opts *o)
{
	memset(o, 0, sizeof(*o));
	const cli_opt table[] = {
	    {"--config", "-c", &o->file, NULL},
	    {"--data", "-d", &o->data, NULL},
	    {"--users", NULL, &o->users, NULL},
	    {"--out", NULL, &o->out, NULL},
	    {"--cost", NULL, &o->cost, NULL},
	    {"--days", NULL, &o->days, NULL},
	    {"--address", NULL, &o->address, NULL},
	    {"--password-stdin", NULL, NULL, &o->password_stdin},
	    {NULL, NULL, NULL, NULL},
	};
	return cli_parse(cmd, argc, argv, table, &o->pos, &o->npos);
}

/* The configuration the server would run with: defaults, -c, -d. */
static int load_config(const char *cmd, const opts *o, config *cfg)
{
	return cli_config(cmd, o->file, o->data, cfg);
}

static int parse_number(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* Reads one line (without its newline) into buf. 0, or -1 at EOF or error. */
static int read_line(FILE *f, char *buf, size_t len)
{
	size_t n;

	if (fgets(buf, (int)len, f) == NULL)
		return -1;
	n = strlen(buf);
	if (n > 0 && buf[n - 1] != '\n' && !feof(f))
		return -1; /* longer than buf */
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return 0;
}

/* Prompts on the terminal without echo. 0 or -1. */
static int prompt(FILE *tty, const char *what, char *buf, size_t len)
{
	struct termios old, quiet;
	int fd = fileno(tty), rc;
	bool restore = tcgetattr(fd, &old) == 0;

	fprintf(tty, "%s", what);
	fflush(tty);
	if (restore) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	rc = read_line(tty, buf, len);
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &old);
	fprintf(tty, "\n");
	return rc;
}

/* The new password, from stdin or the terminal. 0 or an exit status. */
static int get_password(const opts *o, char *buf, size_t len)
{
	char again[AUTH_PASSWORD_MAX + 2];
	FILE *tty;
	int rc = 0;

	if (o->password_stdin) {
		if (read_line(stdin, buf, len) != 0) {
			fprintf(stderr,
				"registry user add: no password on standard input (or "
				"longer than %d bytes)\n",
				AUTH_PASSWORD_MAX);
			return EXIT_FAILED;
		}
	} else {
		if ((tty = fopen("/dev/tty", "r+")) == NULL) {
			fprintf(stderr, "registry user add: no terminal to ask the password on; "
					"use --password-stdin\n");
			return EXIT_USAGE;
		}
		if (prompt(tty, "Password: ", buf, len) != 0 ||
		    prompt(tty, "Password again: ", again, sizeof(again)) != 0) {
			fprintf(stderr, "registry user add: no password read\n");
			rc = EXIT_FAILED;
		} else if (strcmp(buf, again) != 0) {
			fprintf(stderr, "registry user add: the passwords differ\n");
			rc = EXIT_FAILED;
		}
		OPENSSL_cleanse(again, sizeof(again));
		fclose(tty);
		if (rc != 0)
			return rc;
	}
	if (buf[0] == '\0') {
		fprintf(stderr, "registry user add: empty password\n");
		return EXIT_FAILED;
	}
	/* bcrypt reads the first 72 bytes only: refused, not cut short. */
	if (strlen(buf) > AUTH_BCRYPT_PASSWORD_MAX) {
		fprintf(stderr,
			"registry user add: the password is longer than %d bytes, all bcrypt "
			"reads (the rest would be ignored without a word); choose a shorter "
			"one\n",
			AUTH_BCRYPT_PASSWORD_MAX);
		return EXIT_FAILED;
	}
	return 0;
}

/* Loads the users file (absent: empty). 0 or EXIT_FAILED. */
static int users_load(const char *path, auth_htpasswd **out)
{
	char err[512];
	status_t st = auth_htpasswd_load(out, path, err, sizeof(err));

	if (st == ST_NOT_FOUND)
		st = auth_htpasswd_new(out);
	if (st != ST_OK) {
		fprintf(stderr, "registry user: %s\n", err);
		return EXIT_FAILED;
	}
	return 0;
}

/*
 * `user unlock`: asks the registry serving path to lift the lockout of user
 * (listed in h) or of the client address addr. 0 or an exit status.
 */
static int unlock(const char *path, const auth_htpasswd *h, const char *user, const char *addr)
{
	unsigned char bin[sizeof(struct in6_addr)];
	char norm[INET6_ADDRSTRLEN], err[512];

	if (user != NULL && !auth_htpasswd_has(h, user)) {
		fprintf(stderr, "registry user unlock: no user '%s' in %s\n", user, path);
		return EXIT_FAILED;
	}
	/* The registry names addresses as inet_ntop writes them. */
	if (addr != NULL) {
		if (inet_pton(AF_INET, addr, bin) == 1)
			inet_ntop(AF_INET, bin, norm, sizeof(norm));
		else if (inet_pton(AF_INET6, addr, bin) == 1)
			inet_ntop(AF_INET6, bin, norm, sizeof(norm));
		else {
			fprintf(stderr, "registry user unlock: '%s' is not an IP address\n", addr);
			return EXIT_USAGE;
		}
		addr = norm;
	}
	if (auth_unlock_add(path, user, addr, time(NULL), err, sizeof(err)) != ST_OK) {
		fprintf(stderr, "registry user unlock: %s\n", err);
		return EXIT_FAILED;
	}
	printf("asked the registry to lift the failed-login lockout of %s%s%s (a running "
	       "registry does at its next login attempt)\n",
	       user ? "user '" : "address ", user ? user : addr, user ? "'" : "");
	return 0;
}

int cmd_auth_user(int argc, char **argv)
{
	opts o;
	config cfg;
	char path[CONFIG_PATH_MAX + 32], password[AUTH_PASSWORD_MAX + 2], hash[128];
	auth_htpasswd *h = NULL;
	const char *sub = argc > 0 ? argv[0] : "";
	unsigned cost = AUTH_BCRYPT_COST_DEFAULT;
	char *dir = NULL;
	bool existed = false;
	int rc, lock = -1;

	config_defaults(&cfg);
	password[0] = hash[0] = '\0';
	if (strcmp(sub, "add") != 0 && strcmp(sub, "del") != 0 && strcmp(sub, "list") != 0 &&
	    strcmp(sub, "unlock") != 0) {
		fprintf(stderr, "registry user: expected add, del, list or unlock\n");
		rc = EXIT_USAGE;
		o.pos = NULL;
		goto done;
	}
	if ((rc = parse_opts("user", argc - 1, argv + 1, &o)) != 0)
		goto done;
	if (strcmp(sub, "unlock") == 0 ? o.npos != (o.address ? 0 : 1)
				       : o.npos != (strcmp(sub, "list") == 0 ? 0 : 1)) {
		fprintf(stderr, "registry user %s: %s\n", sub,
			strcmp(sub, "list") == 0 ? "takes no name"
			: strcmp(sub, "unlock") == 0
			    ? "needs exactly one NAME, or --address ADDR and no name"
			    : "needs exactly one NAME");
		rc = EXIT_USAGE;
		goto done;
	}
	if (o.address != NULL && strcmp(sub, "unlock") != 0) {
		fprintf(stderr, "registry user %s: --address is for unlock\n", sub);
		rc = EXIT_USAGE;
		goto done;
	}
	if (o.cost != NULL &&
	    parse_number(o.cost, AUTH_BCRYPT_COST_MIN, AUTH_BCRYPT_COST_MAX, &cost) != 0) {
		fprintf(stderr, "registry user: --cost must be %d to %d\n", AUTH_BCRYPT_COST_MIN,
			AUTH_BCRYPT_COST_MAX);
		rc = EXIT_USAGE;
		goto done;
	}
	if ((rc = load_config("user", &o, &cfg)) != 0)
		goto done;
	if (o.users != NULL)
		snprintf(path, sizeof(path), "%s", o.users);
	else if (config_users_path(&cfg, path, sizeof(path)) != ST_OK) {
		fprintf(stderr, "registry user: users file path too long\n");
		rc = EXIT_USAGE;
		goto done;
	}
	if (strcmp(sub, "list") == 0) {
		if ((rc = users_load(path, &h)) != 0)
			goto done;
		for (size_t i = 0; i < auth_htpasswd_count(h); i++)
			printf("%s%s\n", auth_htpasswd_user(h, i),
			       auth_htpasswd_usable(h, i) ? "" : " (not bcrypt: cannot log in)");
		goto done;
	}
	if (strcmp(sub, "add") == 0) {
		if (!auth_user_name_ok(o.pos[0])) {
			fprintf(
			    stderr,
			    "registry user add: '%s' is not a usable name (letters, digits, . _ "
			    "- @; not starting with @; not 'anonymous')\n",
			    o.pos[0]);
			rc = EXIT_USAGE;
			goto done;
		}
		/* Asked and hashed before the lock: neither a person at a prompt
		 * nor bcrypt's deliberate slowness should hold it. */
		if ((rc = get_password(&o, password, sizeof(password))) != 0)
			goto done;
		if (auth_htpasswd_hash(hash, sizeof(hash), password, cost) != ST_OK) {
			fprintf(stderr, "registry user add: cannot hash the password\n");
			rc = EXIT_FAILED;
			goto done;
		}
	}
	/* The data folder may not exist before the first `registry serve`. */
	if ((dir = strdup(path)) == NULL || (mkdir(dirname(dir), 0755) != 0 && errno != EEXIST)) {
		fprintf(stderr, "registry user: cannot create the folder of %s: %s\n", path,
			strerror(errno));
		rc = EXIT_FAILED;
		goto done;
	}
	/* Read, change and write under the lock, or two admins adding users at
	 * once could each write the file without the other's user. */
	if (auth_htpasswd_lock(path, &lock) != ST_OK) {
		fprintf(stderr, "registry user: cannot lock %s.lock: %s\n", path, strerror(errno));
		rc = EXIT_FAILED;
		goto done;
	}
	if ((rc = users_load(path, &h)) != 0)
		goto done;
	if (strcmp(sub, "unlock") == 0) {
		rc = unlock(path, h, o.pos ? o.pos[0] : NULL, o.address);
		goto done;
	}
	if (strcmp(sub, "del") == 0) {
		if (auth_htpasswd_del(h, o.pos[0]) != ST_OK) {
			fprintf(stderr, "registry user del: no user '%s' in %s\n", o.pos[0], path);
			rc = EXIT_FAILED;
			goto done;
		}
	} else {
		existed = auth_htpasswd_has(h, o.pos[0]);
		if (auth_htpasswd_set_hash(h, o.pos[0], hash) != ST_OK) {
			fprintf(stderr, "registry user add: cannot add the user\n");
			rc = EXIT_FAILED;
			goto done;
		}
	}
	if (auth_htpasswd_save(h, path) != ST_OK) {
		fprintf(stderr, "registry user: cannot write %s: %s\n", path, strerror(errno));
		rc = EXIT_FAILED;
		goto done;
	}
	if (strcmp(sub, "del") == 0)
		printf("removed user '%s' from %s\n", o.pos[0], path);
	else
		printf("%s user '%s' in %s\n", existed ? "updated" : "added", o.pos[0], path);
done:
	auth_htpasswd_unlock(lock);
	free(dir);
	OPENSSL_cleanse(password, sizeof(password));
	OPENSSL_cleanse(hash, sizeof(hash));
	auth_htpasswd_free(h);
	free(o.pos);
	config_free(&cfg);
	return rc;
}

int cmd_auth_cert(int argc, char **argv)
{
	opts o;
	config cfg;
	char dir[CONFIG_PATH_MAX + 32], err[1024];
	unsigned days = AUTH_CERT_DAYS_DEFAULT;
	bool reused = false;
	int rc;

	config_defaults(&cfg);
	if ((rc = parse_opts("cert", argc, argv, &o)) != 0)
		goto done;
	if (o.npos == 0) {
		fprintf(stderr,
			"registry cert: name the host names and IP addresses clients use, "
			"such as: registry cert registry.example.com 192.0.2.10 localhost\n");
		rc = EXIT_USAGE;
		goto done;
	}
	if (o.days != NULL && parse_number(o.days, 1, AUTH_CERT_DAYS_MAX, &days) != 0) {
		fprintf(stderr, "registry cert: --days must be 1 to %d\n", AUTH_CERT_DAYS_MAX);
		rc = EXIT_USAGE;
		goto done;
	}
	if ((rc = load_config("cert", &o, &cfg)) != 0)
		goto done;
	if (o.out != NULL)
		snprintf(dir, sizeof(dir), "%s", o.out);
	else
		snprintf(dir, sizeof(dir), "%s/tls", cfg.data);
	if (auth_cert_make(dir, (const char *const *)o.pos, (size_t)o.npos, days, &reused, err,
			   sizeof(err)) != ST_OK) {
		fprintf(stderr, "registry cert: %s\n", err);
		rc = EXIT_FAILED;
		goto done;
	}
	printf("%s %s/ca.crt (the CA clients trust) and %s/ca.key (keep it private)\n",
	       reused ? "kept" : "wrote", dir, dir);
	printf("wrote %s/server.crt and %s/server.key for %d name(s), valid %u days\n", dir, dir,
	       o.npos, days);
	printf("\nin registry.conf:\n    tls_cert = %s/server.crt\n    tls_key = %s/server.key\n",
	       dir, dir);
	printf(
	    "on each client host, for HOST:PORT:\n"
	    "    docker:  /etc/docker/certs.d/HOST:PORT/ca.crt\n"
	    "    podman, skopeo, buildah:  /etc/containers/certs.d/HOST:PORT/ca.crt\n"
	    "    containerd:  /etc/containerd/certs.d/HOST:PORT/ca.crt (hosts.toml: ca = ...)\n");
done:
	free(o.pos);
	config_free(&cfg);
	return rc;
}
