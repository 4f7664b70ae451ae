/* repl_quorum.h -- the quorum rule: which LSN is durable on Q members
 * (elect_commit applies it to the leader and its followers, then Raft's
 * own-epoch condition).
 *
 * A follower's acknowledged LSN is a fact about its disk, so it counts
 * whether or not the follower is online right now; it is reset only when the
 * follower reports a lower LSN at a new handshake (its data was lost). */
#ifndef RKV_REPL_QUORUM_H
#define RKV_REPL_QUORUM_H

#include <stdint.h>

/* The Q-th largest of ACKED[0..n) (Q >= 1, Q <= n): the highest LSN that at
 * least Q followers have made durable. Q == 0 returns UINT64_MAX (no
 * follower needed). */
uint64_t repl_quorum_lsn(const uint64_t *acked, int n, int q);

#endif
