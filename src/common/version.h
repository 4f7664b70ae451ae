/* version.h -- rkv's release, one for every program (INFO's rkv_version,
 * rkv-server/rkv-cli/rkv-bench --version). */
#ifndef RKV_VERSION_H
#define RKV_VERSION_H

#define RKV_VERSION "0.1.0"

#endif
