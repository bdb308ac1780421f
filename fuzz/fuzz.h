/* fuzz: what the libFuzzer targets share (see fuzz/README.md).
 *
 * Every target is one file, fuzz/fuzz_<name>.c, defining LLVMFuzzerTestOneInput. A
 * target frees everything it allocates (LeakSanitizer runs after every input), keeps
 * no state from one input to the next, and calls fuzz_fail() when a property the
 * code promises does not hold, so a broken promise is reported like a crash.
 */
#ifndef KILN_FUZZ_H
#define KILN_FUZZ_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reports a broken property and aborts: libFuzzer saves the input as a crash. */
__attribute__((noreturn, format(printf, 1, 2))) void fuzz_fail(const char *fmt, ...);

/* A malloc'd copy of the input with a NUL after it (the input may hold NULs too). */
char *fuzz_cstr(const uint8_t *data, size_t size);

/* A private directory, made on first use under $FUZZ_TMPDIR, /dev/shm (memory, so
 * files cost no disk I/O) or $TMPDIR, and removed with its files at exit (or, after a
 * crash, by the next target that starts). */
const char *fuzz_tmpdir(void);

/* "<fuzz_tmpdir()>/<name>", malloc'd. */
char *fuzz_path(const char *name);

/* Replaces the file at path with len bytes of data; aborts when it cannot. */
void fuzz_write_file(const char *path, const void *data, size_t len);

/* True when s is a message fit for a terminal: valid UTF-8 without control or
 * invisible characters (kiln_text_printable), and not empty. */
bool fuzz_message_ok(const char *s);

/* Cuts the input into at most max NUL-terminated words at each byte `sep`; the words
 * point into one malloc'd block (*block, the caller frees it). Returns the count. */
int fuzz_split(const uint8_t *data, size_t size, char sep, char **words, int max, char **block);

#endif
