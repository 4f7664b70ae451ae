/* repl_conflict.c -- last-writer-wins application of records (see .h). */
#include "repl/repl_conflict.h"

int repl_apply_record(kv_store *kv, const wal_rec *r, wal_applied_fn fn, void *ctx)
{
    return wal_apply_record(kv, r, fn, ctx);
}
