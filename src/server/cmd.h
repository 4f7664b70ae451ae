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

/* cmd_obs.c: observability and the server's life (docs/MONITORING.md) */
void cmd_slowlog(client *c);
void cmd_latency(client *c);
void cmd_monitor(client *c);
void cmd_memory(client *c);
void cmd_debug(client *c);
void cmd_shutdown(client *c);
void cmd_save(client *c);
void cmd_lastsave(client *c);

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

/* ---- shared by the data commands (cmd_string.c, cmd_keys.c, cmd_multi.c) ---- */
#include <stdint.h>
#include "server/keyspace.h"

/* Key and value size checks, with the error reply. 1 ok, 0 refused. */
int cmd_key_ok(client *c, const resp_arg *k);
int cmd_val_ok(client *c, size_t len);
/* KEY in the client's database, as the command may see it (keyspace.h). A
 * key found past its expiry reads as absent, and the leader deletes it. */
void cmd_lookup(client *c, const resp_arg *k, ks_val *v);
/* Writes into the unit, replying the error when it cannot (the unit would
 * outgrow one record). 0, or -1 with the reply sent. */
int cmd_put(client *c, unsigned db, const resp_arg *k, const void *val, size_t vlen, int64_t exp);
int cmd_del(client *c, unsigned db, const resp_arg *k);
void cmd_reply_unit_full(client *c);
/* An expiry argument (SET EX/PX/EXAT/PXAT, SETEX, GETEX, EXPIRE ...) into an
 * absolute Unix ms time, with Redis's checks and errors ("invalid expire
 * time in 'NAME' command"). UNIT_S: seconds; ABS: already absolute. 0 ok,
 * -1 replied. */
int cmd_expire_arg(client *c, const resp_arg *a, int unit_s, int abs, const char *name,
                   int64_t *out);
/* Which expiry option ARG is: 0 none, else one of these. */
enum { EXP_EX = 1, EXP_PX, EXP_EXAT, EXP_PXAT };
int cmd_expire_opt(const resp_arg *a);

void cmd_set(client *c);
void cmd_setnx(client *c);
void cmd_setex(client *c);
void cmd_psetex(client *c);
void cmd_getset(client *c);
void cmd_getdel(client *c);
void cmd_getex(client *c);
void cmd_get(client *c);
void cmd_mget(client *c);
void cmd_mset(client *c);
void cmd_msetnx(client *c);
void cmd_append(client *c);
void cmd_strlen(client *c);
void cmd_getrange(client *c);
void cmd_setrange(client *c);
void cmd_incr(client *c);
void cmd_decr(client *c);
void cmd_incrby(client *c);
void cmd_decrby(client *c);
void cmd_incrbyfloat(client *c);
void cmd_lcs(client *c);

void cmd_del_keys(client *c); /* DEL, UNLINK */
void cmd_exists(client *c);
void cmd_touch(client *c);
void cmd_type(client *c);
void cmd_keys(client *c);
void cmd_scan(client *c);
void cmd_randomkey(client *c);
void cmd_rename(client *c);
void cmd_renamenx(client *c);
void cmd_copy(client *c);
void cmd_dbsize(client *c);
void cmd_flushdb(client *c);
void cmd_flushall(client *c);
void cmd_select(client *c);
void cmd_expire(client *c);
void cmd_pexpire(client *c);
void cmd_expireat(client *c);
void cmd_pexpireat(client *c);
void cmd_ttl(client *c);
void cmd_pttl(client *c);
void cmd_expiretime(client *c);
void cmd_pexpiretime(client *c);
void cmd_persist(client *c);

void cmd_eval(client *c);
void cmd_evalsha(client *c);
void cmd_script(client *c);

void cmd_multi(client *c);
void cmd_exec(client *c);
void cmd_discard(client *c);
void cmd_watch(client *c);
void cmd_unwatch(client *c);
/* The client is in MULTI: queue this command (commands.c calls it once the
 * command is known, its arity right and, for a write, writes allowed). */
void multi_queue(client *c, int is_write, int denyoom);
/* C's open MULTI has queued a command that may grow memory (--maxmemory). */
int multi_has_denyoom(const client *c);
int multi_active(const client *c);
/* Bytes C's MULTI queue holds (for --maxmemory-clients). */
size_t multi_mem(const client *c);
/* commands.c: runs c->argv's command directly (EXEC's queued commands). */
void command_call(client *c);
/* commands.c: may this node take writes now? Replies the refusal if not. */
int command_write_allowed(client *c);
/* Frees C's transaction state: multi_free while the client is being freed,
 * multi_end otherwise (it recounts the client's memory). */
void multi_free(client *c);
void multi_end(client *c);
/* Flags C's transaction to fail with EXECABORT (a queuing error). */
void multi_flag_error(client *c);
