/* expect.c -- see expect.h. */
#include "expect.h"

#include <stdio.h>
#include <string.h>

static const char *str_of(const resp_value *r)
{
    return r && r->str ? r->str : "";
}

int expect_int(resp_value *r, long long v)
{
    int ok = r && r->type == RESP_T_INT && r->integer == v;
    if (!ok)
        printf("   expected :%lld, got type %d int %lld '%s'\n", v, r ? (int)r->type : -1,
               r ? r->integer : 0, str_of(r));
    resp_value_free(r);
    return ok;
}

int expect_str(resp_value *r, const char *s)
{
    int ok = r && (r->type == RESP_T_BULK || r->type == RESP_T_STATUS) && r->len == strlen(s) &&
             memcmp(r->str, s, r->len) == 0;
    if (!ok) printf("   expected '%s', got type %d '%s'\n", s, r ? (int)r->type : -1, str_of(r));
    resp_value_free(r);
    return ok;
}

int expect_nil(resp_value *r)
{
    int ok = r && r->type == RESP_T_NIL;
    if (!ok) printf("   expected nil, got type %d '%s'\n", r ? (int)r->type : -1, str_of(r));
    resp_value_free(r);
    return ok;
}

int expect_err(resp_value *r, const char *prefix)
{
    int ok = r && r->type == RESP_T_ERROR && strncmp(str_of(r), prefix, strlen(prefix)) == 0;
    if (!ok) printf("   expected -%s..., got type %d '%s'\n", prefix, r ? (int)r->type : -1, str_of(r));
    resp_value_free(r);
    return ok;
}

long long expect_int_of(resp_value *r)
{
    long long v = r && r->type == RESP_T_INT ? r->integer : -999999;
    resp_value_free(r);
    return v;
}
