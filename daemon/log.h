/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Logging to stderr.  Under systemd (JOURNAL_STREAM names our stderr) every
 * line carries a syslog "<N>" prefix so the journal keeps the priority;
 * elsewhere lines are plain, with the program name.
 */
#ifndef MB_LOG_H
#define MB_LOG_H

#include <syslog.h>

void log_setup(const char *progname);
void log_set_level(int level);		/* LOG_ERR .. LOG_DEBUG */
int log_get_level(void);
int log_level_from_name(const char *name);	/* -1 if unknown */
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
