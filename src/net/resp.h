/* resp.h -- RESP2, the Redis serialization protocol, both directions.
 *
 * Requests (server side): resp_parse_request() reads one command from a
 * client's input buffer, either a RESP array of bulk strings
 * ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") or an inline command typed in telnet
 * ("GET k\r\n"). It is incremental in the hiredis sense: "need more bytes" is
 * not an error, and it reports how many bytes it needs at least so the caller
 * does not re-parse a half-received 16 MiB value on every read. Arguments
 * point into the buffer (no copy). Every length is checked against a limit
 * before anything is trusted; a protocol error is reported once with a
 * precise message and the connection is then closed by the server.
 *
 * Replies (client side, rkv-cli / rkv-bench / tests): resp_parse_reply()
 * builds a reply tree; resp_skip_reply() only finds where a reply ends.
 * Nesting depth is bounded by RESP_MAX_DEPTH. */
#ifndef RKV_RESP_H
#define RKV_RESP_H

#include <stddef.h>
#include <stdint.h>

#define RESP_MAX_ARGS_DEFAULT (1024u * 1024u)           /* arguments per command */
#define RESP_MAX_BULK_DEFAULT (20u * 1024u * 1024u)     /* one bulk string */
#define RESP_MAX_INLINE (64u * 1024u)                   /* one inline command line */
#define RESP_MAX_DEPTH 8                                /* nested reply arrays */
#define RESP_MAX_REPLY_ELEMS (16u * 1024u * 1024u)      /* elements in one reply array */

typedef struct resp_arg {
    const char *p;
    size_t len;
} resp_arg;

typedef struct resp_limits {
    size_t max_args; /* most arguments in one command */
    size_t max_bulk; /* longest bulk argument */
} resp_limits;

typedef enum resp_status {
    RESP_OK = 0,        /* one command parsed */
    RESP_NEED_MORE = 1, /* incomplete; *need = bytes needed at least */
    RESP_TOO_MANY = 2,  /* argv_cap too small; *argc = arguments needed */
    RESP_ERROR = -1,    /* protocol error; err holds the message */
} resp_status;

/* Parses one command at the start of BUF[0..LEN). On RESP_OK fills
 * ARGV[0..*argc) and *consumed. On RESP_NEED_MORE sets *need (total bytes
 * from BUF that must be present before parsing can progress). An empty
 * inline line is RESP_OK with *argc == 0 (skip it). */
resp_status resp_parse_request(const char *buf, size_t len, const resp_limits *lim,
                               resp_arg *argv, size_t argv_cap, size_t *argc, size_t *consumed,
                               size_t *need, char *err, size_t errlen);

/* ---- replies ---- */

enum resp_type {
    RESP_T_STATUS = '+',
    RESP_T_ERROR = '-',
    RESP_T_INT = ':',
    RESP_T_BULK = '$',
    RESP_T_ARRAY = '*',
    RESP_T_NIL = '_', /* $-1 or *-1 */
};

typedef struct resp_value {
    enum resp_type type;
    long long integer;         /* RESP_T_INT */
    char *str;                 /* STATUS, ERROR, BULK: NUL-terminated copy */
    size_t len;                /* length of str */
    size_t nelem;              /* RESP_T_ARRAY */
    struct resp_value **elem;  /* RESP_T_ARRAY */
} resp_value;

/* Parses one reply at the start of BUF. Returns RESP_OK with *out (free with
 * resp_value_free) and *consumed, RESP_NEED_MORE, or RESP_ERROR + message. */
resp_status resp_parse_reply(const char *buf, size_t len, resp_value **out, size_t *consumed,
                             char *err, size_t errlen);
/* Finds the end of one reply without building it; *type is its first byte
 * ('-' lets a load generator count errors). */
resp_status resp_skip_reply(const char *buf, size_t len, size_t *consumed, int *type);
void resp_value_free(resp_value *v);

/* Appends the RESP encoding of a command to a growable buffer. Returns 0 or
 * -1 on out of memory. */
typedef struct resp_buf {
    char *p;
    size_t len, cap;
} resp_buf;
int resp_buf_reserve(resp_buf *b, size_t extra);
int resp_buf_append(resp_buf *b, const void *data, size_t len);
int resp_encode_command(resp_buf *b, int argc, const char *const *argv, const size_t *arglen);
void resp_buf_free(resp_buf *b);

#endif
