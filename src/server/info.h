/* info.h -- the INFO command's text, in Redis's sections and format:
 * "# Section" headers and "field:value" lines separated by CRLF. */
#ifndef RKV_INFO_H
#define RKV_INFO_H

#include "repl/repl.h"

typedef struct node node;

#define INFO_REDIS_VERSION "7.0.0" /* the Redis version rkv answers as (INFO, HELLO) */

/* Appends the sections NAMES[0..COUNT) ask for to B, in Redis's fixed
 * section order whatever the order of the names, each once. Names are
 * case-insensitive; "default", "all" and "everything" (and COUNT 0) stand
 * for every section but "sentinel", which only its own name shows. An
 * unknown name adds nothing, as in Redis (so only unknown names: ""). */
void info_render(node *n, const char *const *names, size_t count, info_buf *b);

#endif
