// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "json.h"
#include "protocol.h"

void proto_conn_init(struct proto_conn *c, bool may_close)
{
	memset(c, 0, sizeof(*c));
	c->may_close = may_close;
}

static void json_error(struct strbuf *out, const struct json_request *req, const char *msg)
{
	sb_puts(out, "{\"error\":");
	json_str(out, msg);
	if (req && req->cmd[0]) {
		sb_puts(out, ",\"reply\":");
		json_str(out, req->cmd);
	}
	if (req && req->has_id)
		sb_printf(out, ",\"id\":%s", req->id);
	sb_puts(out, "}\n");
}

static void error_reply(const struct proto_conn *c, struct strbuf *out, const char *msg)
{
	if (c->kind == PROTO_MOM || (c->kind == PROTO_UNDECIDED && c->line[0] != '{')) {
		sb_printf(out, "error:%s\n", msg);
		return;
	}
	json_error(out, NULL, msg);
}

/* Requests for the current state read it afresh, not from the last periodic sample. */
static const struct view *fresh_view(const struct view *v, struct view *tmp)
{
	if (!v->refresh)
		return v;
	v->refresh(v->refresh_arg, tmp);
	return tmp;
}

static void reply_head(struct strbuf *out, const struct json_request *req)
{
	sb_puts(out, "{\"reply\":");
	json_str(out, req->cmd);
	if (req->has_id)
		sb_printf(out, ",\"id\":%s", req->id);
}

/* One complete JSON request line; true if it was a good request. */
static bool handle_json(struct proto_conn *c, const char *line, size_t len,
			const struct view *v, struct strbuf *out)
{
	struct json_request req;
	struct view tmp;
	const char *why;

	if (json_parse_request(line, len, &req, &why)) {
		char msg[96];

		snprintf(msg, sizeof(msg), "bad request: %s", why);
		json_error(out, NULL, msg);
		return false;
	}
	if (!strcmp(req.cmd, "ping")) {
		reply_head(out, &req);
		sb_printf(out, ",\"version\":%d,\"mono_ms\":%llu,\"wall_ms\":%llu}\n",
			  PROTO_VERSION, (unsigned long long)v->mono_ms,
			  (unsigned long long)v->wall_ms);
	} else if (!strcmp(req.cmd, "snapshot")) {
		reply_head(out, &req);
		sb_puts(out, ",");
		report_snapshot_fields(out, fresh_view(v, &tmp));
		sb_puts(out, "}\n");
	} else if (!strcmp(req.cmd, "subscribe")) {
		c->subscribed = true;
		c->samples = req.has_samples && req.samples;
		reply_head(out, &req);
		sb_printf(out, ",\"ok\":true,\"samples\":%s}\n", c->samples ? "true" : "false");
	} else if (!strcmp(req.cmd, "unsubscribe")) {
		c->subscribed = false;
		c->samples = false;
		reply_head(out, &req);
		sb_puts(out, ",\"ok\":true}\n");
	} else {
		json_error(out, &req, "unknown command");
		return false;
	}
	return true;
}

static bool handle_mom(struct proto_conn *c, const char *line, size_t len,
		       const struct view *v, struct strbuf *out)
{
	struct view tmp;

	if (len == 5 && !memcmp(line, "stats", 5)) {
		report_mom_stats(out, fresh_view(v, &tmp), &c->mom);
		return true;
	}
	sb_puts(out, "error:unknown request\n");
	return false;
}

static enum proto_result handle_line(struct proto_conn *c, char *line, size_t len,
				     const struct view *v, struct strbuf *out)
{
	bool ok;

	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	/* blank lines are keep-alives (and the tail of an eagerly answered "stats") */
	if (len == 0)
		return PROTO_CONTINUE;
	if (c->kind == PROTO_UNDECIDED)
		c->kind = line[0] == '{' ? PROTO_JSON : PROTO_MOM;
	if (c->kind == PROTO_JSON)
		ok = handle_json(c, line, len, v, out);
	else
		ok = handle_mom(c, line, len, v, out);
	if (ok) {
		c->errors = 0;
		return PROTO_CONTINUE;
	}
	if (++c->errors >= PROTO_MAX_ERRORS && c->may_close)
		return PROTO_CLOSE;
	if (c->errors >= PROTO_MAX_ERRORS) {
		/* the serial port cannot hang up: start over as a new peer */
		bool may_close = c->may_close;

		proto_conn_init(c, may_close);
	}
	return PROTO_CONTINUE;
}

enum proto_result proto_feed_limited(struct proto_conn *c, const char *data, size_t n,
				     unsigned int max_lines, const struct view *v,
				     struct strbuf *out, uint64_t now_ms, size_t *used,
				     unsigned int *lines)
{
	const char *start = data;

	*lines = 0;
	while (n) {
		const char *nl = memchr(data, '\n', n);
		size_t chunk = nl ? (size_t)(nl - data) : n;

		if (c->discarding) {
			if (nl)
				c->discarding = false;
		} else if (c->len + chunk > PROTO_LINE_MAX) {
			if (*lines >= max_lines)
				break;		/* the error reply counts as a line */
			memcpy(c->line + c->len, data, PROTO_LINE_MAX - c->len);
			c->len = PROTO_LINE_MAX;
			c->line[c->len] = '\0';
			error_reply(c, out, "request line too long");
			++*lines;
			c->len = 0;
			c->partial_since_ms = 0;
			if (c->may_close) {
				*used = (size_t)(data - start) + chunk + (nl ? 1 : 0);
				return PROTO_CLOSE;
			}
			c->discarding = !nl;
		} else if (nl && *lines >= max_lines) {
			break;			/* a complete line, but no budget left */
		} else {
			memcpy(c->line + c->len, data, chunk);
			c->len += chunk;
			c->line[c->len] = '\0';
			if (nl) {
				size_t len = c->len;

				c->len = 0;
				c->partial_since_ms = 0;
				++*lines;
				if (handle_line(c, c->line, len, v, out) == PROTO_CLOSE) {
					*used = (size_t)(nl + 1 - start);
					return PROTO_CLOSE;
				}
			} else if (c->len && !c->partial_since_ms) {
				c->partial_since_ms = now_ms ? now_ms : 1;
			}
		}
		if (!nl) {
			data += n;
			n = 0;
			break;
		}
		n -= chunk + 1;
		data = nl + 1;
	}
	*used = (size_t)(data - start);
	/*
	 * MOM may send "stats" without a newline and wait for the answer:
	 * answer a pending bare "stats" at once; a newline that follows
	 * arrives as an empty line, which is ignored.  Only once every byte
	 * was taken: the pending line is the last thing the peer sent.
	 */
	if (!n && *lines < max_lines && proto_pending(c)) {
		struct view tmp;

		c->len = 0;
		c->partial_since_ms = 0;
		c->kind = PROTO_MOM;
		c->errors = 0;
		++*lines;
		report_mom_stats(out, fresh_view(v, &tmp), &c->mom);
	}
	return PROTO_CONTINUE;
}

enum proto_result proto_feed(struct proto_conn *c, const char *data, size_t n,
			     const struct view *v, struct strbuf *out, uint64_t now_ms)
{
	unsigned int lines;
	size_t used;

	return proto_feed_limited(c, data, n, ~0u, v, out, now_ms, &used, &lines);
}

bool proto_pending(const struct proto_conn *c)
{
	return c->kind != PROTO_JSON && !c->discarding && c->len == 5 &&
	       !memcmp(c->line, "stats", 5);
}

uint64_t proto_deadline(const struct proto_conn *c, unsigned int timeout_ms)
{
	if (!c->partial_since_ms)
		return 0;
	return c->partial_since_ms + timeout_ms;
}

enum proto_result proto_timeout(struct proto_conn *c, struct strbuf *out)
{
	error_reply(c, out, "request timed out (no complete line)");
	c->len = 0;
	c->line[0] = '\0';
	c->partial_since_ms = 0;
	return c->may_close ? PROTO_CLOSE : PROTO_CONTINUE;
}

bool proto_wants_event(const struct proto_conn *c, bool sample)
{
	return c->kind == PROTO_JSON && c->subscribed && (!sample || c->samples);
}
