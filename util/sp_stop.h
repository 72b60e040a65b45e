/*
 * A stop signal that background threads nap on: sp_stop_nap sleeps up to
 * a given time and wakes at once when another thread raises the signal, so
 * that a loop polling every few seconds still stops promptly. Also the
 * arithmetic of "that many milliseconds from now" on a given clock.
 */
#ifndef SP_STOP_H
#define SP_STOP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

typedef struct sp_stop {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_bool raised;
} sp_stop;

void sp_stop_init(sp_stop *s);
void sp_stop_destroy(sp_stop *s);

/* Raise the signal: every nap in progress or to come returns false. */
void sp_stop_raise(sp_stop *s);
bool sp_stop_raised(sp_stop *s);

/* Sleep up to ms milliseconds; false when the signal is (or gets) raised. */
bool sp_stop_nap(sp_stop *s, int64_t ms);

/* The time ms milliseconds from now on clock. */
struct timespec sp_time_after_ms(clockid_t clock, int64_t ms);

#endif /* SP_STOP_H */
