/* cmd.h -- what the command implementations (commands.c, cmd_*.c) share:
 * argument parsing with Redis's exact number rules, and the handlers that
 * live outside commands.c, whose table points at them. */
#ifndef RKV_CMD_H
#define RKV_CMD_H

#include <stddef.h>

#include "net/resp.h"

typedef struct client client;

/* Case-insensitive whole-argument comparison with a C string. */
int arg_eq(const resp_arg *a, const char *s);
/* A whole argument as a 64-bit signed integer, exactly as Redis's string2ll
 * takes it: optional '-', digits, no spaces, no '+', no leading zeros (but
 * "0"), no overflow. 0, or -1. */
int arg_ll(const resp_arg *a, long long *out);
/* The same for an unsigned 64-bit value (SCAN cursors). */
int arg_ull(const resp_arg *a, unsigned long long *out);
/* A finite long double as Redis's string2ld takes it (INCRBYFLOAT): no
 * spaces, not NaN, at most 5120 bytes. 0, or -1. */
int arg_ld(const resp_arg *a, long double *out);
/* At most 128 bytes of an argument for an error message, what is not
 * printable escaped as \xNN (Redis's "unknown command" style). */
void arg_printable(const resp_arg *a, char *out, size_t outlen);

/* cmd_server.c */
void cmd_client(client *c);
void cmd_config(client *c);
void cmd_info(client *c);
/* TIME: *2 of the seconds and microseconds of the wall clock, as bulk
 * strings (Redis's reply). For the command table: {"time", 1, ...},
 * categories @fast (Redis 7.0: TIME is @fast). */
void cmd_time(client *c);
/* CLIENT SETNAME / HELLO SETNAME: checks NAME (Redis's characters, at most
 * CLIENT_NAME_MAX - 1 bytes; empty clears it) and sets it: 0, or -1 with
 * the error replied. */
int client_setname(client *c, const resp_arg *name);

/* To be provided with MULTI (not defined yet, and not called): the commands
 * queued by C's open MULTI, for CLIENT LIST's multi= field, which prints -1
 * without a MULTI and 0 inside one until this exists (TODO in
 * cmd_server.c client_info_line). */
int multi_queued_count(const client *c);

#endif
