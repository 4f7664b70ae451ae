/* crc32.h -- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of every WAL record, replication frame and checkpoint chunk.
 *
 * Same CRC as etcd, Kafka, LevelDB and iSCSI. The SSE4.2 crc32 instruction is
 * used when the CPU has it (checked once at run time); otherwise a portable
 * slicing-by-8 table. Both give identical results.
 *
 * Incremental: crc32c(crc32c(0, a, n), b, m) == crc32c(0, a||b, n+m).
 * crc32c(0, "123456789", 9) == 0xE3069283. */
#ifndef RKV_CRC32_H
#define RKV_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Extends CRC (0 to start) over LEN bytes of BUF, fastest available path. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
/* The portable slicing-by-8 path (always available). */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* The SSE4.2 path; only call when crc32c_hw_available() is true. */
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len);
int crc32c_hw_available(void);

#endif
