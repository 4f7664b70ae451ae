/* wal_apply.c -- one record into the store (see wal_apply.h). */
#include "wal/wal_apply.h"

int wal_apply_record(kv_store *kv, const wal_rec *r, wal_applied_fn fn, void *ctx)
{
    wal_op_iter it;
    wal_op_view op;
    int won = KV_LOST;
    wal_op_iter_init(&it, r);
    while (wal_op_next(&it, &op)) {
        kv_version v = {op.ts, op.node_id};
        int rc = KV_WON;
        switch (op.op) {
        case WAL_OP_PUT:
            rc = kv_put(kv, op.db, op.key, op.klen, op.val, op.vlen, op.expire_ms, v);
            break;
        case WAL_OP_DEL:
            rc = kv_del(kv, op.db, op.key, op.klen, v);
            break;
        case WAL_OP_FLUSHDB:
            kv_flush_db(kv, op.db);
            break;
        case WAL_OP_FLUSHALL:
            kv_flush_all(kv);
            break;
        default:
            rc = KV_LOST;
            break;
        }
        if (rc == KV_NOMEM) return KV_NOMEM;
        if (rc == KV_WON) won = KV_WON;
        if (fn) fn(ctx, &op);
    }
    return won;
}
