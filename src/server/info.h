/* info.h -- the INFO command's text, in Redis's sections and format:
 * "# Section" headers and "field:value" lines separated by CRLF. */
#ifndef RKV_INFO_H
#define RKV_INFO_H

#include "repl/repl.h"

typedef struct node node;

#define INFO_REDIS_VERSION "7.0.0" /* the Redis version rkv answers as (INFO, HELLO) */

/* Appends the named section (NULL, "all" or "default": every section) to B.
 * An unknown section appends nothing, as in Redis. */
void info_render(node *n, const char *section, info_buf *b);

#endif
