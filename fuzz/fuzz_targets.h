/*
 * The fuzz harness: one entry point per target, each in the shape of
 * libFuzzer's LLVMFuzzerTestOneInput, that feeds one input to the parsers and
 * handlers that read the network (DESIGN sections 3, 5 and 8) and checks what
 * comes back: no crash, no sanitizer report, and a well-formed result (an
 * answer body that parses as JSON, scores within 0..10, only node names that
 * were sent, effects that convert, no constraint broken by a chosen node).
 * The same code runs in two programs: the libFuzzer targets fuzz/fuzz_<t>.c
 * (clang, `make fuzz`) and tests/test_fuzz_regress.c (gcc, `make check`),
 * which replays every saved crash and the seed corpus.
 *
 * A broken check is reported through the violation handler: by default it
 * prints the target, the line and what was wrong, and aborts (libFuzzer then
 * saves the input as a crash); a test installs its own to count failures.
 */
#ifndef SP_FUZZ_TARGETS_H
#define SP_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* Called with the target and a one-line description of a broken check. */
typedef void (*fuzz_violation_fn)(const char *target, const char *what);

/* Install fn (NULL: the default, which prints and aborts). */
void fuzz_set_violation_handler(fuzz_violation_fn fn);

/*
 * One-time setup shared by every target: cJSON through sp_alloc (as the
 * server does) and logs off. The entry points call it themselves; it is
 * idempotent.
 */
void fuzz_init(void);

/*
 * Drop the state that outlives one input (the extender's service and its
 * temporary state directory): the next input starts afresh. Registered with
 * atexit by the first fuzz_extender call.
 */
void fuzz_reset(void);

/* The entry points; each returns 0 (libFuzzer's convention). */
int fuzz_quantity(const uint8_t *data, size_t size);
int fuzz_annotations(const uint8_t *data, size_t size);
int fuzz_extender(const uint8_t *data, size_t size);
int fuzz_admission(const uint8_t *data, size_t size);
int fuzz_hostpool(const uint8_t *data, size_t size);
int fuzz_policy(const uint8_t *data, size_t size);
int fuzz_kubeconfig(const uint8_t *data, size_t size);
int fuzz_skim(const uint8_t *data, size_t size);

/* Every target by name, ending with { NULL, NULL }. */
typedef struct fuzz_target {
    const char *name;                           /* "quantity", ... */
    int (*run)(const uint8_t *data, size_t size);
} fuzz_target;

extern const fuzz_target fuzz_targets[];

#endif /* SP_FUZZ_TARGETS_H */
