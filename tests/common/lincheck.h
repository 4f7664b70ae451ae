/* lincheck.h -- a linearizability checker for histories of per-key registers
 * (the Wing-Gong-Lowe search, as Knossos and Porcupine run it), and the
 * history file format the chaos tools write and build/tools/lincheck reads.
 *
 * A history is a set of operations on keys. Each key is a register that
 * starts absent (nil): write(key, value) sets it, del(key) removes it,
 * read(key) returns its value or nil. Every operation has a call time and
 * a return time (monotonic microseconds, as the client saw them) and an
 * outcome:
 *   ok       it happened, at one instant between its call and its return;
 *   fail     it definitely did not happen (dropped before the check);
 *   unknown  a timeout, a lost connection, an error that leaves it open: it
 *            may take effect at any instant after its call, or never (its
 *            return time is +infinity). An unknown read tells nothing and is
 *            dropped.
 * The history is linearizable if every key's operations can be put in one
 * order that keeps real time (an op that returned before another was called
 * comes first) and obeys the register. Keys are independent (a register
 * history is linearizable iff each key's is: P-compositionality), so each
 * key is checked alone.
 *
 * Why it is fast enough for tens of thousands of operations a key (see
 * lincheck.c for the details): the search memoises every (set of
 * linearized operations, register value) it has explored, and encodes the
 * set compactly (a count of leading full words of the bitset plus the few
 * words beyond them); a read that fits the register now is linearized at
 * once with no choice point (reads change nothing, so taking one early is
 * never worse); a value is never overwritten while a read of it is still to
 * come and no other write of it is left (that branch is dead); a write
 * whose value nobody reads is placed just before the next write, or at its
 * return, never as a choice of its own; an unknown write whose value
 * nobody read is dropped (taking it can only hide values), and one whose
 * value is unique and was read becomes an ok write that returned at the
 * first such read (it must have happened by then); identical pending
 * unknown operations are tried in one order only. Each key's search is
 * bounded in memory, steps and time by the limits below, and a key past
 * them is reported "unknown (too big)" rather than hanging the run. The
 * search is still exponential in the number of operations in flight at
 * once on one key (as every WGL checker is): with unique values, 16 at once
 * check at about a million operations a second, 32 at once take seconds to
 * prove a violation.
 *
 * The file format, one operation a line (blank lines and lines starting
 * with '#' are ignored):
 *
 *   <client> <op> <key> <value|-> <call_us> <ret_us|-> <ok|fail|unknown> [<result>]
 *
 *   client   a decimal id (>= 0): who sent it; only for the explanations
 *   op       write | read | del
 *   value    the value a write writes; '-' for read and del
 *   call_us  when it was called; ret_us when it returned ('-' or a number
 *            for unknown, where it is ignored: +infinity)
 *   result   an ok read's result: the value, or nil for absent (required);
 *            an ok del's result: 1 (it removed the key) or 0 (optional; not
 *            given: not checked); nothing for writes and other outcomes
 *
 * Keys, values and results are written byte-exact with %XX escapes: every
 * byte below 0x21, above 0x7e, and '%' itself. A lone '%' is the empty
 * string; a value that is literally "-" or "nil" is written with its first
 * byte escaped ("%2D", "%6Eil"), so the bare tokens keep their meanings.
 *
 * Use:
 *     lc_history *h = lc_history_new();
 *     lc_op op = {.client = 1, .kind = LC_WRITE, .key = "k", .value = "v1",
 *                 .call_us = 10, .ret_us = 20, .outcome = LC_OUT_OK};
 *     lc_add(h, &op, err, sizeof err);            // thread-safe
 *     ...
 *     lc_report rep;
 *     int verdict = lc_check(h, NULL, &rep);       // LC_LINEARIZABLE, ...
 *     lc_report_print(stdout, &rep, 1);
 *     lc_report_free(&rep);
 *     lc_history_free(h);
 */
#ifndef RKV_TEST_LINCHECK_H
#define RKV_TEST_LINCHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- limits of a history ---- */
#define LC_OPS_MAX 20000000L                       /* operations in one history */
#define LC_KEY_MAX 1024                            /* bytes of a key */
#define LC_VALUE_MAX 65536                         /* bytes of a value or a read result */
#define LC_STRINGS_BYTES_MAX (1024L * 1024 * 1024) /* all distinct keys and values */
#define LC_CLIENT_MAX 1000000000L                  /* largest client id */
#define LC_TIME_MAX (INT64_MAX / 4)                /* largest call or return time (us) */
/* Longest line of a history file: every byte of a key, a value and a result
 * escaped (3 bytes each), plus the numbers and words. */
#define LC_LINE_MAX (3L * (LC_KEY_MAX + 2L * LC_VALUE_MAX) + 256)

/* ---- limits of one key's search (defaults; lc_limits overrides) ---- */
#define LC_KEY_OPS_MAX 4000000L                     /* operations of one key */
#define LC_CACHE_BYTES_DEFAULT (512L * 1024 * 1024) /* memo table of one key */
#define LC_STEPS_DEFAULT 400000000LL                /* search steps of one key */
#define LC_KEY_MS_DEFAULT 60000LL                   /* wall-clock time of one key */

/* ---- explanations ---- */
#define LC_EXPLAIN_OPS_MAX 16     /* operations listed for a non-linearizable key */
#define LC_EXPLAIN_STATES_MAX 4   /* register values listed at the point of failure */
#define LC_EXPLAIN_BYTES_MAX 8192 /* one key's explanation text */
#define LC_REPORT_BAD_MAX 20      /* non-linearizable keys printed by lc_report_print */

typedef enum { LC_WRITE, LC_READ, LC_DEL } lc_kind;
typedef enum { LC_OUT_OK, LC_OUT_FAIL, LC_OUT_UNKNOWN } lc_outcome;

typedef struct lc_op {
    long client;
    lc_kind kind;
    lc_outcome outcome;
    int64_t call_us;
    int64_t ret_us;  /* ignored for LC_OUT_UNKNOWN (+infinity) */
    const char *key; /* NUL-terminated; copied by lc_add */
    size_t key_len;  /* 0: strlen(key) */
    /* LC_WRITE: the value written. LC_READ with LC_OUT_OK: the result, NULL
     * for nil (absent). Otherwise unused. Copied by lc_add. */
    const char *value;
    size_t value_len; /* 0: strlen(value) (an empty value needs value_empty) */
    int value_empty;  /* the value is the empty string */
    int del_result;   /* LC_DEL with LC_OUT_OK: 1 removed, 0 absent, -1 not checked */
} lc_op;

typedef struct lc_history lc_history;

/* An empty history, or NULL (out of memory). */
lc_history *lc_history_new(void);
void lc_history_free(lc_history *h);
/* Adds a copy of OP. 0, or -1 with ERR set (a bad op, a limit reached).
 * Safe to call from several threads at once. */
int lc_add(lc_history *h, const lc_op *op, char *err, size_t errlen);
/* Operations added so far. */
long lc_count(const lc_history *h);

/* Parses one line of the file format and adds it. 0 added, 1 blank or a
 * comment, -1 bad line (ERR says why). */
int lc_parse_line(lc_history *h, const char *line, char *err, size_t errlen);
/* Reads a whole history file (PATH "-": stdin). 0, or -1 with ERR naming
 * the line. */
int lc_read_file(lc_history *h, const char *path, char *err, size_t errlen);
/* Writes OP as one line of the file format. 0 or -1 (I/O error). */
int lc_write_op(FILE *fp, const lc_op *op);
/* Writes every operation of H, in the order added. 0 or -1. */
int lc_write_history(FILE *fp, const lc_history *h);

typedef struct lc_limits {
    size_t cache_bytes; /* 0: LC_CACHE_BYTES_DEFAULT */
    long long steps;    /* 0: LC_STEPS_DEFAULT */
    long long key_ms;   /* 0: LC_KEY_MS_DEFAULT */
} lc_limits;

typedef enum { LC_KEY_LINEARIZABLE, LC_KEY_NOT_LINEARIZABLE, LC_KEY_TOO_BIG } lc_verdict;

typedef struct lc_key_result {
    char *key; /* malloc'd, printable (escaped as in the file) */
    lc_verdict verdict;
    long ops;           /* operations of the key in the history */
    long checked;       /* of those, searched (after dropping fail and the like) */
    long long steps;    /* search steps */
    long cache_entries; /* configurations memoised */
    double ms;          /* time spent on the key */
    char *explain;      /* malloc'd: why not linearizable, or why too big; else NULL */
} lc_key_result;

typedef struct lc_report {
    long ops; /* operations in the history */
    long keys, linearizable, not_linearizable, too_big;
    double ms;        /* the whole check */
    lc_key_result *k; /* keys entries, in the order keys first appear */
} lc_report;

/* The overall verdict of lc_check. */
#define LC_LINEARIZABLE 0
#define LC_NOT_LINEARIZABLE 1 /* at least one key is not */
#define LC_UNDECIDED 2        /* none is not, but some key was too big to decide */
#define LC_ERROR (-1)         /* out of memory */

/* Checks every key of H (which it does not change; more adds may follow).
 * LIM NULL: the defaults. Fills REP (free it with lc_report_free) and
 * returns the overall verdict. */
int lc_check(const lc_history *h, const lc_limits *lim, lc_report *rep);
/* Prints a summary line, then (up to LC_REPORT_BAD_MAX) explanations of the
 * keys that are not linearizable or too big; VERBOSE: one line per key. */
void lc_report_print(FILE *fp, const lc_report *rep, int verbose);
void lc_report_free(lc_report *rep);

#endif
