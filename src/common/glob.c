/* glob.c -- Redis's glob (stringmatchlen's syntax): one matcher for the
 * patterns of PSUBSCRIBE, ACL key rules and (issue 13) KEYS / SCAN MATCH,
 * so they can never disagree on what a pattern means. */
#include "common/glob.h"

/* Matches one pattern token at P[*pi] (not '*') against the byte CH and
 * moves *pi past the token. */
static int glob_one(const char *p, size_t plen, size_t *pi, unsigned char ch)
{
    size_t i = *pi;
    unsigned char t = (unsigned char)p[i];
    if (t == '?') {
        *pi = i + 1;
        return 1;
    }
    if (t == '\\' && i + 1 < plen) {
        *pi = i + 2;
        return (unsigned char)p[i + 1] == ch;
    }
    if (t != '[') {
        *pi = i + 1;
        return t == ch;
    }
    /* A class: [abc], [^abc], [a-z] (either order), \ escapes; one left
     * open runs to the end of the pattern (as Redis's stringmatchlen). */
    i++;
    int neg = 0, match = 0;
    if (i < plen && p[i] == '^') {
        neg = 1;
        i++;
    }
    while (i < plen) {
        if (p[i] == '\\' && i + 1 < plen) {
            if ((unsigned char)p[i + 1] == ch) match = 1;
            i += 2;
        } else if (p[i] == ']') {
            i++;
            break;
        } else if (i + 2 < plen && p[i + 1] == '-') {
            unsigned char lo = (unsigned char)p[i], hi = (unsigned char)p[i + 2];
            if (lo > hi) {
                unsigned char x = lo;
                lo = hi;
                hi = x;
            }
            if (ch >= lo && ch <= hi) match = 1;
            i += 3;
        } else {
            if ((unsigned char)p[i] == ch) match = 1;
            i++;
        }
    }
    *pi = i;
    return neg ? !match : match;
}

/* Every token but '*' matches exactly one byte, so on a mismatch it is
 * enough to let the last '*' swallow one more byte and retry from there
 * (one backtrack point, not one per star): no pattern can make this take
 * more than len(p) * len(s) steps. */
int rkv_glob_match(const char *p, size_t plen, const char *s, size_t slen)
{
    size_t pi = 0, si = 0, star_p = 0, star_s = 0;
    int star = 0;
    while (si < slen) {
        if (pi < plen && p[pi] == '*') {
            while (pi < plen && p[pi] == '*')
                pi++;
            if (pi == plen) return 1;
            star = 1;
            star_p = pi;
            star_s = si;
            continue;
        }
        size_t next = pi;
        if (pi < plen && glob_one(p, plen, &next, (unsigned char)s[si])) {
            pi = next;
            si++;
            continue;
        }
        if (!star) return 0;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < plen && p[pi] == '*')
        pi++;
    return pi == plen;
}

