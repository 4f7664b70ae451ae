/* glob.h -- Redis's glob patterns (*, ?, [abc], [^a-z], [a-z] either way
 * round, \x), binary safe and case sensitive, in O(len(p) * len(s)) steps
 * whatever the pattern (one backtrack point, not one per star). */
#ifndef RKV_GLOB_H
#define RKV_GLOB_H

#include <stddef.h>

/* 1 if S[0..slen) matches pattern P[0..plen), else 0. */
int rkv_glob_match(const char *p, size_t plen, const char *s, size_t slen);

#endif
