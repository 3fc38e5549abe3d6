/* breakpoint: the record of a partial download, for resume (the seed's
 * "OTA 断点续传").
 *
 *   DIR/download.part      the bytes received so far; its length is the offset
 *   DIR/breakpoint.json    {"version":..,"md5":..,"size":N}: which firmware they belong to
 *
 * Without persistence (the no-persist defect) the record lives only in RAM,
 * so a power cut forgets it while the part file stays behind.
 */
#ifndef OTAHIL_EMU_BREAKPOINT_H
#define OTAHIL_EMU_BREAKPOINT_H

#include <stddef.h>
#include <stdint.h>

typedef struct breakpoint breakpoint;

/* Opens the breakpoint store in `dir`, reading breakpoint.json when `persist`.
 * An unreadable record is treated as none. Returns a handle to free with
 * breakpoint_close, or NULL with `err` set. */
breakpoint *breakpoint_open(const char *dir, int persist, char *err, size_t errlen);

/* 1 if a record exists and names exactly this firmware, else 0. */
int breakpoint_matches(const breakpoint *b, const char *version, const char *md5, uint64_t size);

/* 1 if a record exists (any firmware). */
int breakpoint_has_record(const breakpoint *b);

/* The recorded version (owned by `b`), or NULL without a record. */
const char *breakpoint_version(const breakpoint *b);

/* The resume offset: the part file's length, 0 if it does not exist. */
uint64_t breakpoint_offset(const breakpoint *b);

/* The part file's path (owned by `b`). */
const char *breakpoint_part_path(const breakpoint *b);

/* Starts a new download: deletes the part file, then records this firmware.
 * Returns 0 or -1 with `err` set. */
int breakpoint_begin(breakpoint *b, const char *version, const char *md5, uint64_t size,
                     char *err, size_t errlen);

/* Records this firmware but keeps the part file (the stale-resume defect). */
int breakpoint_record(breakpoint *b, const char *version, const char *md5, uint64_t size,
                      char *err, size_t errlen);

/* Forgets the record, then deletes the part file. Returns 0 or -1. */
int breakpoint_clear(breakpoint *b, char *err, size_t errlen);

/* Describes the record ("2.0.0 md5=... size=N offset=M" or "none") into buf. */
void breakpoint_describe(const breakpoint *b, char *buf, size_t len);

void breakpoint_close(breakpoint *b);

#endif
