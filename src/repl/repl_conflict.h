/* repl_conflict.h -- applies a WAL record to a store under last-writer-wins.
 *
 * The one place where a record becomes state, used by the leader when a
 * record commits, by followers when it is durable, and by recovery's
 * callers. The order itself (timestamp, origin node id, delete-wins, value
 * bytes) is kv_version_cmp in kv_store.c; any order of arrival of the same
 * puts and deletes gives the same state and digest. FLUSHDB and FLUSHALL
 * are barriers, applied in log order (wal_apply.h). */
#ifndef RKV_REPL_CONFLICT_H
#define RKV_REPL_CONFLICT_H

#include "kv/kv_store.h"
#include "wal/wal_apply.h"
#include "wal/wal_record.h"

/* Applies R (every operation of a MULTI, in order; wal_apply.h), calling
 * FN for each. Returns KV_WON, KV_LOST or KV_NOMEM. */
int repl_apply_record(kv_store *kv, const wal_rec *r, wal_applied_fn fn, void *ctx);

#endif
