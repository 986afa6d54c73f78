/* log.h: leveled logging to stderr, one line per event. */
#ifndef UTIL_LOG_H
#define UTIL_LOG_H

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

extern enum log_level log_threshold;

/* Parses "error", "warn", "info", "debug"; -EINVAL for anything else. */
int log_parse_level(const char *name, enum log_level *out);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                         \
	do {                                                   \
		if (log_threshold >= LOG_LVL_DEBUG)            \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);   \
	} while (0)

#endif /* UTIL_LOG_H */
