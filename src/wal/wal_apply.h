/* wal_apply.h -- turns one decoded record into store state.
 *
 * Shared by recovery (wal_recovery.c), the commit path (node.c through
 * repl_apply_record) and followers, so a record means the same thing
 * wherever it is applied. PUT and DEL go through last-writer-wins
 * (kv_store.h): any arrival order of the same puts and deletes gives the
 * same state. FLUSHDB and FLUSHALL are barriers: they empty the database(s)
 * when applied, in log order. A MULTI applies its operations in order with
 * versions ts, ts + 1, ... (wal_record.h). */
#ifndef RKV_WAL_APPLY_H
#define RKV_WAL_APPLY_H

#include "kv/kv_store.h"
#include "wal/wal_record.h"

/* Called for each operation applied, with its result (KV_WON / KV_LOST):
 * the leader's view of proposed writes forgets an operation once it is
 * in the store. NULL: none. */
typedef void (*wal_applied_fn)(void *ctx, const wal_op_view *op);

/* Applies R to KV. KV_WON if any operation changed the store, KV_LOST if
 * none did, KV_NOMEM (out of memory part way: the caller stops, the WAL has
 * the record). */
int wal_apply_record(kv_store *kv, const wal_rec *r, wal_applied_fn fn, void *ctx);

#endif
