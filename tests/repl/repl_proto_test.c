/* repl_proto_test.c -- replication frames round-trip, control frames are
 * CRC-protected, bounds are enforced; the quorum rule picks the Q-th
 * highest acknowledged LSN. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../testhelp.h"
#include "repl/repl_proto.h"
#include "repl/repl_quorum.h"

int main(void)
{
    uint8_t buf[REPL_CTRL_MAX];
    repl_frame f;
    size_t used;
    char err[128];

    test_section("hello round-trip");
    repl_hello h = {.node_id = 7, .epoch = 3, .last_lsn = 100, .commit_lsn = 90};
    snprintf(h.cluster_id, sizeof h.cluster_id, "prod-eu");
    size_t len = repl_encode_hello(buf, &h);
    test_cond("parses", repl_frame_parse(buf, len, &f, &used, err, sizeof err) == REPL_OK &&
                            used == len && f.type == REPL_HELLO);
    repl_hello h2;
    test_cond("decodes", repl_decode_hello(&f, &h2) == 0 && h2.node_id == 7 && h2.epoch == 3 &&
                             h2.last_lsn == 100 && strcmp(h2.cluster_id, "prod-eu") == 0);

    test_section("partial frames need more");
    int ok = 1;
    for (size_t cut = 0; cut < len; cut++)
        if (repl_frame_parse(buf, cut, &f, &used, err, sizeof err) != REPL_NEED_MORE) ok = 0;
    test_cond("every prefix is NEED_MORE", ok);

    test_section("corruption is caught");
    ok = 1;
    for (size_t i = 4; i < len; i++)
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1 << bit);
            if (repl_frame_parse(buf, len, &f, &used, err, sizeof err) == REPL_OK) ok = 0;
            buf[i] ^= (uint8_t)(1 << bit);
        }
    test_cond("any flipped bit after the length is rejected", ok);

    test_section("ack and limits");
    repl_beat b = {11, 22, 33}, b2;
    len = repl_encode_beat(buf, REPL_ACK, &b);
    test_cond("ack round-trip", repl_frame_parse(buf, len, &f, &used, err, sizeof err) == REPL_OK &&
                                    repl_decode_beat(&f, &b2) == 0 && b2.a == 11 && b2.c == 33);
    uint8_t huge[REPL_FRAME_HDR] = {0xff, 0xff, 0xff, 0x7f, REPL_RECORDS};
    test_cond("huge length refused before waiting for it",
              repl_frame_parse(huge, sizeof huge, &f, &used, err, sizeof err) == REPL_BAD);
    uint8_t badtype[REPL_FRAME_HDR] = {0, 0, 0, 0, 99};
    test_cond("unknown type refused",
              repl_frame_parse(badtype, sizeof badtype, &f, &used, err, sizeof err) == REPL_BAD);

    test_section("quorum");
    uint64_t acked[3] = {5, 9, 7};
    test_cond("Q=1 is the max", repl_quorum_lsn(acked, 3, 1) == 9);
    test_cond("Q=2 is the second", repl_quorum_lsn(acked, 3, 2) == 7);
    test_cond("Q=3 is the min", repl_quorum_lsn(acked, 3, 3) == 5);
    test_cond("Q=0 needs nobody", repl_quorum_lsn(acked, 3, 0) == UINT64_MAX);
    return test_report();
}
