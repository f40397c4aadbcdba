/*
 * test_config.c - configuration defaults, every key's accepted and refused
 * values, the file format with its exact FILE:LINE messages, listen
 * splitting, and the shipped registry.conf (tests run from the project root).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../server/config.h"

static char path[64];
static config cfg;
static char err[1024];

/* Each test starts from the defaults and a fresh temporary file name. */
static void setup(void)
{
	int fd;

	config_defaults(&cfg);
	err[0] = '\0';
	snprintf(path, sizeof(path), "/tmp/test_config.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

static void teardown(void)
{
	unlink(path);
}

/* Replaces the temporary file's content with text (len bytes). */
static void write_file(const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* Loads text from the temporary file, expecting want. */
static status_t load(const char *text, status_t want)
{
	status_t st;

	write_file(text, strlen(text));
	st = config_load(&cfg, path, err, sizeof(err));
	ck_assert_msg(st == want, "status %d, want %d; err: %s", st, want, err);
	return st;
}

/* Expects loading text to fail on `line` with message msg. */
static void expect_load_error(const char *text, unsigned line, const char *msg)
{
	char want[1024];

	load(text, ST_INVALID);
	snprintf(want, sizeof(want), "%s:%u: %s", path, line, msg);
	ck_assert_str_eq(err, want);
}

/* Field by field: struct copies need not copy padding, so no memcmp. */
static int config_same(const config *a, const config *b)
{
	return strcmp(a->listen, b->listen) == 0 && strcmp(a->data, b->data) == 0 &&
	       a->log_level == b->log_level && a->delete_enabled == b->delete_enabled &&
	       a->max_manifest_bytes == b->max_manifest_bytes &&
	       a->upload_ttl_sec == b->upload_ttl_sec && a->threads == b->threads &&
	       a->max_connections == b->max_connections &&
	       a->connection_timeout_sec == b->connection_timeout_sec;
}

static void expect_set(const char *key, const char *value)
{
	status_t st = config_set(&cfg, key, value, err, sizeof(err));

	ck_assert_msg(st == ST_OK, "%s = '%s': status %d: %s", key, value, st, err);
}

static void expect_set_invalid(const char *key, const char *value)
{
	config before = cfg;

	err[0] = '\0';
	ck_assert_msg(config_set(&cfg, key, value, err, sizeof(err)) == ST_INVALID,
		      "%s = '%s' accepted", key, value);
	ck_assert_msg(err[0] != '\0', "%s = '%s': no message", key, value);
	/* A refused value changes nothing. */
	ck_assert(config_same(&before, &cfg));
}

START_TEST(defaults)
{
	ck_assert_str_eq(cfg.listen, "0.0.0.0:5000");
	ck_assert_str_eq(cfg.data, "./data");
	ck_assert_int_eq(cfg.log_level, LOG_INFO);
	ck_assert(cfg.delete_enabled);
	ck_assert_uint_eq(cfg.max_manifest_bytes, 4 * 1024 * 1024);
	ck_assert_uint_eq(cfg.upload_ttl_sec, 86400);
	ck_assert_uint_eq(cfg.threads, 0);
	ck_assert_uint_eq(cfg.max_connections, 1024);
	ck_assert_uint_eq(cfg.connection_timeout_sec, 60);
}
END_TEST

START_TEST(set_strings)
{
	char long_path[CONFIG_PATH_MAX + 1];

	expect_set("listen", "127.0.0.1:8080");
	ck_assert_str_eq(cfg.listen, "127.0.0.1:8080");
	expect_set("listen", "[::1]:5000");
	ck_assert_str_eq(cfg.listen, "[::1]:5000");
	expect_set("listen", ":443");
	ck_assert_str_eq(cfg.listen, ":443");
	expect_set_invalid("listen", "");
	expect_set_invalid("listen", "5000");
	expect_set("listen", "127.0.0.1:0"); /* any free port */
	ck_assert_str_eq(cfg.listen, "127.0.0.1:0");
	expect_set_invalid("listen", "host:65536");
	expect_set_invalid("listen", "::1:5000");
	ck_assert_str_eq(err, "invalid listen '::1:5000' (expected HOST:PORT, [IPV6]:PORT or "
			      ":PORT, port 0-65535)");

	expect_set("data", "/var/lib/registry");
	ck_assert_str_eq(cfg.data, "/var/lib/registry");
	expect_set_invalid("data", "");
	ck_assert_str_eq(err, "data may not be empty");
	memset(long_path, 'd', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0'; /* 4096 characters */
	expect_set_invalid("data", long_path);
	ck_assert_str_eq(err, "data is longer than 4095 bytes");
	long_path[CONFIG_PATH_MAX - 1] = '\0'; /* 4095: fits */
	expect_set("data", long_path);
	ck_assert_str_eq(cfg.data, long_path);
}
END_TEST

START_TEST(set_log_level)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};

	for (int i = 0; i < 4; i++) {
		expect_set("log_level", names[i]);
		ck_assert_int_eq(cfg.log_level, (log_level)i);
	}
	expect_set_invalid("log_level", "verbose");
	ck_assert_str_eq(err, "invalid log_level 'verbose' (expected error, warn, info or debug)");
	expect_set_invalid("log_level", "INFO");
	expect_set_invalid("log_level", "");
	expect_set_invalid("log_level", "info ");
}
END_TEST

START_TEST(set_bool)
{
	static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no",
									       "off"};

	for (int i = 0; i < 3; i++) {
		expect_set("delete_enabled", no[i]);
		ck_assert(!cfg.delete_enabled);
		expect_set("delete_enabled", yes[i]);
		ck_assert(cfg.delete_enabled);
	}
	expect_set_invalid("delete_enabled", "1");
	ck_assert_str_eq(err,
			 "invalid delete_enabled '1' (expected true, false, yes, no, on or off)");
	expect_set_invalid("delete_enabled", "TRUE");
	expect_set_invalid("delete_enabled", "");
	expect_set_invalid("delete_enabled", "y");
}
END_TEST

START_TEST(set_size)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
	    {"1", 1},
	    {"512", 512},
	    {"1K", 1024},
	    {"1k", 1024},
	    {"4M", 4 * 1024 * 1024},
	    {"4m", 4 * 1024 * 1024},
	    {"2G", 2ULL * 1024 * 1024 * 1024},
	    {"8589934591G", 8589934591ULL * 1024 * 1024 * 1024}, /* 2^63 - 2^30 */
	    {"9223372036854775807", INT64_MAX},
	};
	static const char *const bad[] = {
	    "0",
	    "0K",
	    "",
	    "-1",
	    "+1",
	    "4MB",
	    "4 M",
	    " 4M",
	    "4M ",
	    "1.5M",
	    "M",
	    "4T",
	    "4b",
	    "0x10",
	    "8589934592G",
	    "9223372036854775808",
	    "99999999999999999999",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		expect_set("max_manifest_size", good[i].s);
		ck_assert_uint_eq(cfg.max_manifest_bytes, good[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_set_invalid("max_manifest_size", bad[i]);
	expect_set_invalid("max_manifest_size", "0");
	ck_assert_str_eq(err,
			 "invalid max_manifest_size '0' (expected a size above 0, such as 4M)");
}
END_TEST

START_TEST(set_durations)
{
	static const struct {
		const char *s;
		uint32_t v;
	} good[] = {
	    {"1", 1},
	    {"90", 90},
	    {"30s", 30},
	    {"1m", 60},
	    {"24h", 86400},
	    {"2d", 172800},
	    {"4294967295", UINT32_MAX},
	    {"49710d", 4294944000u},
	};
	static const char *const bad[] = {"",  "-1",  "1w",	    "1.5h",   "1H",	 "1 h",
					  "h", "1hh", "4294967296", "49711d", "71583m1", "0x1"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		expect_set("upload_ttl", good[i].s);
		ck_assert_uint_eq(cfg.upload_ttl_sec, good[i].v);
		expect_set("connection_timeout", good[i].s);
		ck_assert_uint_eq(cfg.connection_timeout_sec, good[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_set_invalid("upload_ttl", bad[i]);
		expect_set_invalid("connection_timeout", bad[i]);
	}
	/* An upload TTL must be positive; a connection timeout of 0 means none. */
	expect_set_invalid("upload_ttl", "0");
	ck_assert_str_eq(err, "invalid upload_ttl '0' (expected a duration above 0, such as 24h)");
	expect_set_invalid("upload_ttl", "0h");
	expect_set("connection_timeout", "0");
	ck_assert_uint_eq(cfg.connection_timeout_sec, 0);
	expect_set_invalid("connection_timeout", "x");
	ck_assert_str_eq(err, "invalid connection_timeout 'x' (expected a duration, such as 60s)");
}
END_TEST

START_TEST(set_counts)
{
	expect_set("threads", "0");
	ck_assert_uint_eq(cfg.threads, 0);
	expect_set("threads", "256");
	ck_assert_uint_eq(cfg.threads, 256);
	expect_set("threads", "8");
	ck_assert_uint_eq(cfg.threads, 8);
	expect_set_invalid("threads", "257");
	ck_assert_str_eq(err, "invalid threads '257' (expected a number from 0 to 256)");
	expect_set_invalid("threads", "-1");
	expect_set_invalid("threads", "");
	expect_set_invalid("threads", "4 ");
	expect_set_invalid("threads", "4K");
	expect_set_invalid("threads", "18446744073709551617");

	expect_set("max_connections", "1");
	ck_assert_uint_eq(cfg.max_connections, 1);
	expect_set("max_connections", "65536");
	ck_assert_uint_eq(cfg.max_connections, 65536);
	expect_set_invalid("max_connections", "0");
	ck_assert_str_eq(err, "invalid max_connections '0' (expected a number from 1 to 65536)");
	expect_set_invalid("max_connections", "65537");
	expect_set_invalid("max_connections", "1k");
}
END_TEST

START_TEST(set_misuse)
{
	expect_set_invalid("colour", "blue");
	ck_assert_str_eq(err, "unknown key 'colour'");
	expect_set_invalid("Listen", ":5000");
	expect_set_invalid("", "x");
	expect_set_invalid(NULL, "x");
	expect_set_invalid("threads", NULL);
	ck_assert_int_eq(config_set(NULL, "threads", "1", err, sizeof(err)), ST_INVALID);
	/* No room for a message is fine. */
	ck_assert_int_eq(config_set(&cfg, "threads", "x", NULL, 0), ST_INVALID);
	ck_assert_int_eq(config_set(&cfg, "threads", "x", err, 0), ST_INVALID);
	/* A short buffer gets a truncated, terminated message. */
	ck_assert_int_eq(config_set(&cfg, "colour", "blue", err, 8), ST_INVALID);
	ck_assert_str_eq(err, "unknown");
}
END_TEST

START_TEST(listen_split)
{
	static const struct {
		const char *in, *host;
		uint16_t port;
	} good[] = {
	    {"0.0.0.0:5000", "0.0.0.0", 5000},
	    {":5000", "", 5000},
	    {"localhost:65535", "localhost", 65535},
	    {"registry.example.com:1", "registry.example.com", 1},
	    {"[::]:80", "::", 80},
	    {"[::1]:5000", "::1", 5000},
	    {"[fe80::1%eth0]:443", "fe80::1%eth0", 443},
	    {"host:05000", "host", 5000},
	    {"127.0.0.1:0", "127.0.0.1", 0},
	    {"[::1]:00", "::1", 0},
	};
	static const char *const bad[] = {
	    "",		  "5000",    ":",	 "host:",     "host:00000x",
	    "host:65536", "host:+1", "host:-1",	 "host:1x",   "host: 1",
	    "host:1 ",	  " host:1", "a b:1",	 "::1:5000",  "[::1]5000",
	    "[::1]",	  "[::1]:",  "[]:5000",	 "[::1:5000", "[a]:5000",
	    "[::1]:-0",	  "h/st:1",  "host:1:2", "[[::1]]:5", "host:99999999999999999999",
	};
	char host[64];
	uint16_t port;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		port = 0;
		ck_assert_msg(config_listen_split(good[i].in, host, sizeof(host), &port) == ST_OK,
			      "'%s' refused", good[i].in);
		ck_assert_str_eq(host, good[i].host);
		ck_assert_uint_eq(port, good[i].port);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(config_listen_split(bad[i], host, sizeof(host), &port) == ST_INVALID,
			      "'%s' accepted", bad[i]);
	/* The host must fit, NUL included; host NULL only checks. */
	ck_assert_int_eq(config_listen_split("localhost:1", host, 9, &port), ST_INVALID);
	ck_assert_int_eq(config_listen_split("localhost:1", host, 10, &port), ST_OK);
	ck_assert_str_eq(host, "localhost");
	ck_assert_int_eq(config_listen_split(":1", host, 1, &port), ST_OK);
	ck_assert_int_eq(config_listen_split("[::1]:7", NULL, 0, &port), ST_OK);
	ck_assert_uint_eq(port, 7);
	ck_assert_int_eq(config_listen_split(NULL, host, sizeof(host), &port), ST_INVALID);
	ck_assert_int_eq(config_listen_split(":1", host, sizeof(host), NULL), ST_INVALID);
}
END_TEST

START_TEST(load_all_keys)
{
	load("# a comment\n"
	     "\n"
	     "   \t\n"
	     "listen = 127.0.0.1:8080\n"
	     "data=/srv/registry\n"
	     "\tlog_level\t=\tdebug\t\n"
	     "delete_enabled = off # deletes are for admins\n"
	     "max_manifest_size = \"8M\"\n"
	     "upload_ttl = 2h\r\n"
	     "threads = 4#no space before the comment\n"
	     "max_connections = 10\n"
	     "   # indented comment\n"
	     "connection_timeout = 0",
	     ST_OK);
	ck_assert_str_eq(cfg.listen, "127.0.0.1:8080");
	ck_assert_str_eq(cfg.data, "/srv/registry");
	ck_assert_int_eq(cfg.log_level, LOG_DEBUG);
	ck_assert(!cfg.delete_enabled);
	ck_assert_uint_eq(cfg.max_manifest_bytes, 8 * 1024 * 1024);
	ck_assert_uint_eq(cfg.upload_ttl_sec, 7200);
	ck_assert_uint_eq(cfg.threads, 4);
	ck_assert_uint_eq(cfg.max_connections, 10);
	ck_assert_uint_eq(cfg.connection_timeout_sec, 0);
}
END_TEST

START_TEST(load_quotes)
{
	load("data = \"/srv/a#b c\"  # the quotes keep '#' and the space\n", ST_OK);
	ck_assert_str_eq(cfg.data, "/srv/a#b c");
	load("data = \" padded \"\n", ST_OK);
	ck_assert_str_eq(cfg.data, " padded ");
	/* Without quotes, '#' starts a comment and trailing blanks go. */
	load("data = /srv/a#b\n", ST_OK);
	ck_assert_str_eq(cfg.data, "/srv/a");
	/* A quote inside an unquoted value is just a character. */
	load("data = /srv/it\"s\n", ST_OK);
	ck_assert_str_eq(cfg.data, "/srv/it\"s");
}
END_TEST

START_TEST(load_empty)
{
	config before = cfg;

	load("", ST_OK);
	ck_assert(config_same(&before, &cfg));
	load("# only comments\n\n# here\n", ST_OK);
	ck_assert(config_same(&before, &cfg));
}
END_TEST

START_TEST(load_errors)
{
	expect_load_error("listen = :5000\n\ncolour = blue\n", 3, "unknown key 'colour'");
	expect_load_error("data = /x\nthreads = many\n", 2,
			  "invalid threads 'many' (expected a number from 0 to 256)");
	expect_load_error("threads = 1\n# again:\n\nthreads = 2\n", 4,
			  "'threads' repeated (first set on line 1)");
	/* Repeating a key is refused even with the same value. */
	expect_load_error("data = /x\ndata = /x\n", 2, "'data' repeated (first set on line 1)");
	expect_load_error("listen\n", 1, "missing '=' after the key");
	expect_load_error("\nlisten :5000\n", 2, "missing '=' after the key");
	expect_load_error("listen # = :5000\n", 1, "missing '=' after the key");
	expect_load_error("= 5\n", 1, "missing key before '='");
	expect_load_error("data = \"/srv\n", 1, "unterminated quoted value");
	expect_load_error("data = \"/srv\" x\n", 1, "unexpected text after the closing quote");
	expect_load_error("data = \"\"\n", 1, "data may not be empty");
	expect_load_error("data =\n", 1, "data may not be empty");
	expect_load_error("data = # nothing\n", 1, "data may not be empty");
	expect_load_error("max_connections = 0\n", 1,
			  "invalid max_connections '0' (expected a number from 1 to 65536)");
	expect_load_error("upload_ttl = 1w\n", 1,
			  "invalid upload_ttl '1w' (expected a duration above 0, such as 24h)");
	expect_load_error("listen = [::1]\n", 1,
			  "invalid listen '[::1]' (expected HOST:PORT, [IPV6]:PORT or :PORT, port "
			  "0-65535)");
	/* Keys are case-sensitive, and the first error stops the load. */
	expect_load_error("Threads = 1\nbogus\n", 1, "unknown key 'Threads'");
}
END_TEST

START_TEST(load_nul_byte)
{
	char want[256];

	write_file("threads = 1\nthreads\0 = 2\n", 25);
	ck_assert_int_eq(config_load(&cfg, path, err, sizeof(err)), ST_INVALID);
	snprintf(want, sizeof(want), "%s:2: NUL byte in line", path);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(load_unreadable)
{
	char want[256];

	unlink(path);
	ck_assert_int_eq(config_load(&cfg, path, err, sizeof(err)), ST_NOT_FOUND);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	ck_assert_str_eq(err, want);
	/* A directory opens but cannot be read. */
	ck_assert_int_eq(config_load(&cfg, "/tmp", err, sizeof(err)), ST_IO);
	ck_assert_str_eq(err, "/tmp: Is a directory");
}
END_TEST

START_TEST(load_misuse)
{
	write_file("threads = x\n", 12);
	ck_assert_int_eq(config_load(&cfg, path, NULL, 0), ST_INVALID);
	ck_assert_int_eq(config_load(&cfg, NULL, err, sizeof(err)), ST_INVALID);
	ck_assert_int_eq(config_load(NULL, path, err, sizeof(err)), ST_INVALID);
	/* A value that fails leaves the earlier lines applied. */
	load("threads = 3\nmax_connections = 0\n", ST_INVALID);
	ck_assert_uint_eq(cfg.threads, 3);
}
END_TEST

/* The shipped registry.conf loads and says exactly what the defaults say. */
START_TEST(shipped_conf)
{
	config def;

	config_defaults(&def);
	/* Start elsewhere, so that every default must come from the file. */
	cfg.listen[0] = cfg.data[0] = '\0';
	cfg.log_level = LOG_ERROR;
	cfg.delete_enabled = false;
	cfg.max_manifest_bytes = cfg.upload_ttl_sec = cfg.threads = 7;
	cfg.max_connections = cfg.connection_timeout_sec = 7;
	ck_assert_msg(config_load(&cfg, "registry.conf", err, sizeof(err)) == ST_OK, "%s", err);
	ck_assert(config_same(&cfg, &def));
}
END_TEST

/* Every key is written out in registry.conf, so the file documents them all. */
START_TEST(shipped_conf_complete)
{
	static const char *const keys[] = {
	    "listen",	  "data",    "log_level",	"delete_enabled",    "max_manifest_size",
	    "upload_ttl", "threads", "max_connections", "connection_timeout"};
	char line[512];
	int found[sizeof(keys) / sizeof(keys[0])] = {0};
	FILE *f = fopen("registry.conf", "r");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL)
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strncmp(line, keys[i], strlen(keys[i])) == 0 &&
			    strncmp(line + strlen(keys[i]), " = ", 3) == 0)
				found[i]++;
	fclose(f);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		ck_assert_msg(found[i] == 1, "registry.conf sets %s %d times", keys[i], found[i]);
		/* ...and config_set knows each of them. */
		ck_assert_int_ne(config_set(&cfg, keys[i], "", err, sizeof(err)), ST_OK);
		ck_assert_msg(strstr(err, "unknown key") == NULL, "%s: %s", keys[i], err);
	}
}
END_TEST

/* storage and metadata: the backends; only the implemented names pass. */
START_TEST(backends)
{
	FILE *f;
	char line[512];
	int seen_storage = 0, seen_metadata = 0;

	ck_assert_str_eq(cfg.storage, "filesystem");
	ck_assert_str_eq(cfg.metadata, "sqlite");
	expect_set("storage", "filesystem");
	expect_set("metadata", "sqlite");
	ck_assert_str_eq(cfg.storage, "filesystem");
	ck_assert_str_eq(cfg.metadata, "sqlite");
	expect_set("storage", "s3");
	expect_set("storage", "filesystem");
	expect_set_invalid("storage", "gcs");
	ck_assert_str_eq(err, "invalid storage 'gcs' (expected filesystem or s3)");
	expect_set_invalid("metadata", "mysql");
	ck_assert_str_eq(err, "invalid metadata 'mysql' (expected sqlite or postgres)");
	expect_set("metadata", "postgres");
	ck_assert_str_eq(cfg.metadata, "postgres");
	expect_set("postgres", "host=/run/postgresql dbname=registry");
	ck_assert_str_eq(cfg.postgres, "host=/run/postgresql dbname=registry");
	expect_set("metadata", "sqlite");
	expect_set_invalid("storage", "");
	expect_set_invalid("storage", "Filesystem");
	expect_set_invalid("metadata", "sqlite3");
	ck_assert_str_eq(cfg.storage, "filesystem");
	ck_assert_str_eq(cfg.metadata, "sqlite");

	load("storage = filesystem\nmetadata = sqlite\n", ST_OK);
	expect_load_error("data = /x\nstorage = gcs\n", 2,
			  "invalid storage 'gcs' (expected filesystem or s3)");
	expect_load_error("s3_endpoint = s3.example.com\n", 1,
			  "invalid s3_endpoint 's3.example.com' (expected http(s)://HOST[:PORT])");
	expect_load_error("s3_prefix = /abs/\n", 1,
			  "invalid s3_prefix '/abs/' (expected a key prefix ending in /)");
	expect_load_error("s3_part_size = 4M\n", 1,
			  "invalid s3_part_size '4M' (expected a size from 5M to 5G (5242880 to "
			  "5368709120 bytes))");
	expect_load_error("metadata = mysql\n", 1,
			  "invalid metadata 'mysql' (expected sqlite or postgres)");
	load("metadata = postgres\npostgres = \"postgresql://registry@db/registry\"\n", ST_OK);
	expect_load_error("storage = filesystem\nstorage = filesystem\n", 2,
			  "'storage' repeated (first set on line 1)");

	/* registry.conf documents both, with their defaults. */
	ck_assert_ptr_nonnull(f = fopen("registry.conf", "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		seen_storage += strcmp(line, "storage = filesystem\n") == 0;
		seen_metadata += strcmp(line, "metadata = sqlite\n") == 0;
	}
	fclose(f);
	ck_assert_int_eq(seen_storage, 1);
	ck_assert_int_eq(seen_metadata, 1);
}
END_TEST

Suite *make_config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("set");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, set_strings);
	tcase_add_test(tc, set_log_level);
	tcase_add_test(tc, set_bool);
	tcase_add_test(tc, set_size);
	tcase_add_test(tc, set_durations);
	tcase_add_test(tc, set_counts);
	tcase_add_test(tc, set_misuse);
	tcase_add_test(tc, listen_split);
	suite_add_tcase(s, tc);
	tc = tcase_create("load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, load_all_keys);
	tcase_add_test(tc, load_quotes);
	tcase_add_test(tc, load_empty);
	tcase_add_test(tc, load_errors);
	tcase_add_test(tc, load_nul_byte);
	tcase_add_test(tc, load_unreadable);
	tcase_add_test(tc, load_misuse);
	tcase_add_test(tc, shipped_conf);
	tcase_add_test(tc, shipped_conf_complete);
	tcase_add_test(tc, backends);
	suite_add_tcase(s, tc);
	return s;
}
