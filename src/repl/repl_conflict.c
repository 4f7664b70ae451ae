/* repl_conflict.c -- last-writer-wins application of records (see .h). */
#include "repl/repl_conflict.h"

int repl_apply_record(kv_store *kv, const wal_rec *r, int *existed)
{
    kv_version v = {r->ts, r->node_id};
    if (r->op == WAL_OP_NOOP) return KV_LOST; /* the epoch-start record changes nothing */
    if (existed) {
        kv_entry_view e;
        *existed = kv_get(kv, r->key, r->klen, &e);
    }
    if (r->op == WAL_OP_PUT) return kv_apply_put(kv, r->key, r->klen, r->val, r->vlen, v);
    return kv_apply_del(kv, r->key, r->klen, v);
}
