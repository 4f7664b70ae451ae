/* fuzz_config.c -- fuzzes the server configuration parser
 * (src/server/config.c).
 *
 * The input is used two ways: written to a temp file and read with
 * config_load_file(), and split into one `key value` pair for config_set()
 * (key = the bytes before the first '=' or NUL, value = the bytes after it
 * up to the next NUL). Each result then goes through config_validate().
 * Properties: every string field stays NUL-terminated inside its array, the
 * follower list within its bounds with valid ports, a failure always comes
 * with a message, and a configuration that validates has
 * 0 <= quorum <= followers. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "server/config.h"

static void check_config(const node_config *c)
{
    fuzz_check(strnlen(c->bind, sizeof c->bind) < sizeof c->bind);
    fuzz_check(strnlen(c->data_dir, sizeof c->data_dir) < sizeof c->data_dir);
    fuzz_check(strnlen(c->log_file, sizeof c->log_file) < sizeof c->log_file);
    fuzz_check(strnlen(c->cluster_id, sizeof c->cluster_id) < sizeof c->cluster_id);
    fuzz_check(c->node_id >= 1 && c->node_id <= 65535);
    fuzz_check(c->port >= 0 && c->port <= 65535);
    fuzz_check(c->nfollowers >= 0 && c->nfollowers <= CFG_FOLLOWERS_MAX);
    for (int i = 0; i < c->nfollowers; i++) {
        const cfg_peer *p = &c->followers[i];
        fuzz_check(strnlen(p->host, sizeof p->host) < sizeof p->host);
        fuzz_check(p->port >= 1 && p->port <= 65535);
    }
}

static void validate(node_config *c)
{
    char err[512] = "";
    check_config(c);
    if (config_validate(c, err, sizeof err) == 0) {
        fuzz_check(c->quorum >= 0 && c->quorum <= c->nfollowers);
        check_config(c);
    } else {
        fuzz_check(err[0] != '\0');
    }
}

static void fuzz_file(const uint8_t *data, size_t size)
{
    node_config c;
    config_defaults(&c);
    char err[1024] = "";
    if (config_load_file(&c, fuzz_tmp_write(data, size), err, sizeof err) == 0)
        validate(&c);
    else
        fuzz_check(err[0] != '\0');
}

static void fuzz_set(const uint8_t *data, size_t size)
{
    size_t split = 0;
    while (split < size && data[split] != '=' && data[split] != '\0') split++;
    size_t vstart = split < size ? split + 1 : size;
    size_t vlen = 0;
    while (vstart + vlen < size && data[vstart + vlen] != '\0') vlen++;

    char *key = malloc(split + 1), *val = malloc(vlen + 1);
    fuzz_check(key != NULL && val != NULL);
    memcpy(key, data, split);
    key[split] = '\0';
    memcpy(val, data + vstart, vlen);
    val[vlen] = '\0';

    node_config c;
    config_defaults(&c);
    char err[1024] = "";
    if (config_set(&c, key, val, err, sizeof err) == 0)
        validate(&c);
    else
        fuzz_check(err[0] != '\0');
    free(key);
    free(val);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_file(data, size);
    fuzz_set(data, size);
    return 0;
}
