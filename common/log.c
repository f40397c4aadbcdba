/* log.c - see log.h. A record is formatted into one buffer and written once. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile log_level max_level = LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(log_level level)
{
	max_level = level;
}

int log_level_parse(const char *name, log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_msg(log_level level, const char *fmt, ...)
{
	char buf[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;
	int r;

	if (level > max_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(buf + n, sizeof(buf) - n, ".%03ldZ %s ", ts.tv_nsec / 1000000,
		     level_names[level]);
	if (r > 0)
		n += (size_t)r;
	va_start(ap, fmt);
	r = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (r > 0)
		n += (size_t)r < sizeof(buf) - n - 1 ? (size_t)r : sizeof(buf) - n - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* nowhere left to report it */
	}
}
