/*
 * log.h - one-line log records on stderr: "TIME LEVEL message".
 * Thread-safe (one write(2) per record).
 */
#ifndef LOG_H
#define LOG_H

typedef enum { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG } log_level;

/* Records above this level are dropped. Default LOG_INFO. */
void log_set_level(log_level level);
/* "error", "warn", "info", "debug" -> level. 0 on success, -1 if unknown. */
int log_level_parse(const char *name, log_level *out);

void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
