/* repl_quorum.c -- see repl_quorum.h. n is at most a cluster's members (9:
 * the election core's commit rule, elect_commit, counts the leader too), so
 * a small insertion sort on a copy is the simplest correct choice. */
#include "repl/repl_quorum.h"

#include <assert.h>

#define REPL_QUORUM_N_MAX 64

uint64_t repl_quorum_lsn(const uint64_t *acked, int n, int q)
{
    if (q <= 0) return UINT64_MAX;
    assert(q <= n && n <= REPL_QUORUM_N_MAX);
    uint64_t v[REPL_QUORUM_N_MAX] = {0};
    for (int i = 0; i < n; i++) {
        uint64_t x = acked[i];
        int j = i;
        while (j > 0 && v[j - 1] < x) { /* descending */
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
    return v[q - 1];
}
