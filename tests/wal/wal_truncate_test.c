/* wal_truncate_test.c -- wal_truncate_after cuts a WAL back to an LSN: at a
 * batch boundary, inside a batch (the straddling batch keeps its first
 * records under a rewritten header), at a segment boundary, to nothing; the
 * log recovers to exactly the records kept, and a writer reopened after the
 * cut appends and recovers again. A cut interrupted between the header
 * rewrite and the file cut (the bytes of the dropped records still there)
 * recovers the records kept too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/proc.h"
#include "../testhelp.h"
#include "kv/kv_store.h"
#include "wal/wal_record.h"
#include "wal/wal_recovery.h"
#include "wal/wal_writer.h"

#define RECS 100
#define PER_BATCH 7
#define SEG_BYTES 1500 /* a few batches per segment */

static int write_range(wal_writer *w, uint64_t from, uint64_t to, uint64_t epoch)
{
    char err[256];
    uint8_t buf[PER_BATCH * 128];
    for (uint64_t lsn = from; lsn <= to;) {
        size_t len = 0;
        uint64_t first = lsn;
        for (int i = 0; i < PER_BATCH && lsn <= to; i++, lsn++) {
            char key[32], val[32];
            int kl = snprintf(key, sizeof key, "k%llu", (unsigned long long)lsn);
            int vl = snprintf(val, sizeof val, "e%llu", (unsigned long long)epoch);
            wal_rec r = {.lsn = lsn, .epoch = epoch, .ts = 1000 + lsn, .node_id = 1,
                         .op = WAL_OP_PUT, .klen = (uint32_t)kl, .vlen = (uint32_t)vl,
                         .key = (const uint8_t *)key, .val = (const uint8_t *)val};
            len += wal_record_encode(&r, buf + len);
        }
        if (wal_writer_write(w, buf, len, first, lsn - 1, err, sizeof err) != 0 ||
            wal_writer_sync(w, err, sizeof err) != 0) {
            printf("write: %s\n", err);
            return -1;
        }
    }
    return 0;
}

/* Recovers DIR: 1 if it holds exactly k1..kLAST (values e<epoch>), else 0. */
static int holds_exactly(const char *dir, uint64_t last, uint64_t *got_last)
{
    kv_store *kv = kv_new();
    wal_recovery_info info;
    char err[512];
    int ok = wal_recover(dir, kv, &info, NULL, err, sizeof err) == 0;
    if (!ok) printf("recover: %s\n", err);
    *got_last = ok ? info.last_lsn : 0;
    ok = ok && info.last_lsn == last && kv_count(kv) == last;
    for (uint64_t l = 1; ok && l <= last; l++) {
        char key[32];
        int kl = snprintf(key, sizeof key, "k%llu", (unsigned long long)l);
        kv_entry_view e;
        ok = kv_get(kv, key, (uint32_t)kl, &e);
    }
    kv_free(kv);
    return ok;
}

static void one_cut(uint64_t cut)
{
    char *dir = proc_tmpdir("walcut");
    char err[512], what[96];
    wal_writer *w = wal_writer_open(dir, SEG_BYTES, 1, NULL, err, sizeof err);
    test_cond("writer opens", w != NULL);
    if (!w) return;
    test_cond("100 records written", write_range(w, 1, RECS, 1) == 0);
    wal_writer_close(w);
    snprintf(what, sizeof what, "cut after lsn %llu", (unsigned long long)cut);
    test_cond(what, wal_truncate_after(dir, cut, NULL, err, sizeof err) == 0);
    uint64_t got = 0;
    snprintf(what, sizeof what, "after the cut at %llu it recovers exactly 1..%llu",
             (unsigned long long)cut, (unsigned long long)cut);
    test_cond(what, holds_exactly(dir, cut, &got));
    if (got != cut) printf("   cut %llu: recovered last lsn %llu\n", (unsigned long long)cut,
                           (unsigned long long)got);
    w = wal_writer_open(dir, SEG_BYTES, cut + 1, NULL, err, sizeof err);
    test_cond("a writer reopens after the cut", w != NULL);
    if (w) {
        test_cond("and appends 30 more", write_range(w, cut + 1, cut + 30, 2) == 0);
        wal_writer_close(w);
        test_cond("the whole log recovers", holds_exactly(dir, cut + 30, &got));
    }
    proc_rmtree(dir);
    free(dir);
}

int main(void)
{
    test_section("cuts at batch boundaries, inside batches, at segment starts, to nothing");
    /* Batches of 7: 7 and 14 are boundaries, 10 is inside one, 1 the first
     * record; segment starts depend on SEG_BYTES, so every LSN is tried. */
    for (uint64_t cut = 0; cut <= RECS; cut++) one_cut(cut);

    test_section("a cut interrupted after the header rewrite recovers the records kept");
    char *dir = proc_tmpdir("walcut2");
    char err[512];
    wal_writer *w = wal_writer_open(dir, 1u << 20, 1, NULL, err, sizeof err);
    test_cond("one segment of 100 records", w && write_range(w, 1, RECS, 1) == 0);
    wal_writer_close(w);
    /* Simulate the crash: do the cut, then put the dropped bytes back. */
    char path[PROC_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/wal/%020llu.wal", dir, 1ull);
    FILE *fp = fopen(path, "rb");
    static uint8_t before[1 << 16];
    size_t blen = fp ? fread(before, 1, sizeof before, fp) : 0;
    if (fp) fclose(fp);
    test_cond("cut after lsn 10 (inside a batch)", wal_truncate_after(dir, 10, NULL, err, sizeof err) == 0);
    fp = fopen(path, "r+b");
    long kept = 0;
    if (fp && fseek(fp, 0, SEEK_END) == 0) kept = ftell(fp);
    /* Back: the dropped records of the cut batch, up to the next batch
     * header (the cut removes later batches first, durably). */
    size_t upto = (size_t)kept;
    while (upto + 4 <= blen && memcmp(before + upto, "RKVB", 4) != 0) upto++;
    if (fp && kept > 0 && (size_t)kept < upto) fwrite(before + kept, 1, upto - (size_t)kept, fp);
    printf("   put back bytes %ld..%zu\n", kept, upto);
    if (fp) fclose(fp);
    uint64_t got = 0;
    test_cond("recovery takes the dropped bytes for a torn tail", holds_exactly(dir, 10, &got));
    proc_rmtree(dir);
    free(dir);
    return test_report();
}
