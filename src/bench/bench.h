/* bench.h -- entry points of rkv-bench's sub-commands, so each benchmark
 * lives in its own file and rkv_bench.c's main only dispatches. */
#ifndef RKV_BENCH_H
#define RKV_BENCH_H

/* rkv-bench storage [--records N] [--value-size B] [--batch N]
 *                   [--sync-records N] [--dir D] [--keep]
 * The storage engine alone, no network: group-commit appends through the
 * WAL writer, then the same with one fdatasync per record, recovery of the
 * log, and a checkpoint write and load of the resulting store. One line per
 * measurement on stdout. ARGV[0] is "storage". Returns the exit status:
 * 0, 1 on a failure, 2 on a bad command line. */
int bench_storage(int argc, char **argv);

#endif
