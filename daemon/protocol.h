/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One host connection's protocol state (docs/protocol.md), free of I/O:
 * bytes in, reply bytes out.  The first non-empty line decides the
 * protocol for the connection: a line starting with '{' is the JSON-lines
 * protocol, anything else MOM's guest-daemon protocol.
 */
#ifndef MB_PROTOCOL_H
#define MB_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report.h"
#include "strbuf.h"

#define PROTO_LINE_MAX 4096	/* longest request line */
#define PROTO_MAX_ERRORS 8	/* consecutive bad requests before we hang up */
#define PROTO_VERSION 1

enum proto_kind {
	PROTO_UNDECIDED,
	PROTO_JSON,
	PROTO_MOM,
};

enum proto_result {
	PROTO_CONTINUE,
	PROTO_CLOSE,		/* reply written; then hang up */
};

struct proto_conn {
	enum proto_kind kind;
	bool may_close;		/* false for the virtio-serial port: it never goes away */
	bool subscribed;	/* JSON: events pushed */
	bool samples;		/* JSON: periodic samples pushed too */
	bool discarding;	/* skipping the rest of an oversized line */
	unsigned int errors;	/* consecutive bad requests */
	uint64_t partial_since_ms;	/* when the pending partial line began; 0: none */
	struct mom_swap mom;		/* MOM: swap counters at the previous "stats" */
	size_t len;
	char line[PROTO_LINE_MAX + 1];
};

void proto_conn_init(struct proto_conn *c, bool may_close);
/*
 * Feed received bytes, handling at most max_lines complete lines (a bare
 * MOM "stats" answered before its newline counts as one); replies are
 * appended to out.  *used is how many bytes were taken (all n unless the
 * line budget ran out first: the caller keeps the rest for later), *lines
 * how many lines were handled.
 */
enum proto_result proto_feed_limited(struct proto_conn *c, const char *data, size_t n,
				     unsigned int max_lines, const struct view *v,
				     struct strbuf *out, uint64_t now_ms, size_t *used,
				     unsigned int *lines);
/* The same without a budget: every byte is taken. */
enum proto_result proto_feed(struct proto_conn *c, const char *data, size_t n,
			     const struct view *v, struct strbuf *out, uint64_t now_ms);
/* A bare MOM "stats" waits to be answered (feeding nothing answers it). */
bool proto_pending(const struct proto_conn *c);
/* When the pending partial line times out (0: nothing pending). */
uint64_t proto_deadline(const struct proto_conn *c, unsigned int timeout_ms);
/* Past the deadline: an error reply, and PROTO_CLOSE if the connection may close. */
enum proto_result proto_timeout(struct proto_conn *c, struct strbuf *out);
/* Does this connection want pushed events (samples: a periodic sample event)? */
bool proto_wants_event(const struct proto_conn *c, bool sample);

#endif
