/* The stop signal threads nap on: see sp_stop.h. */
#include "util/sp_stop.h"

#define NS_PER_S 1000000000L

struct timespec sp_time_after_ms(clockid_t clock, int64_t ms)
{
    struct timespec t;

    clock_gettime(clock, &t);
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= NS_PER_S) {
        t.tv_sec++;
        t.tv_nsec -= NS_PER_S;
    }
    return t;
}

void sp_stop_init(sp_stop *s)
{
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    atomic_init(&s->raised, false);
}

void sp_stop_destroy(sp_stop *s)
{
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
}

void sp_stop_raise(sp_stop *s)
{
    pthread_mutex_lock(&s->lock);
    atomic_store(&s->raised, true);
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

bool sp_stop_raised(sp_stop *s)
{
    return atomic_load(&s->raised);
}

bool sp_stop_nap(sp_stop *s, int64_t ms)
{
    /* pthread_cond_timedwait measures against CLOCK_REALTIME */
    struct timespec until = sp_time_after_ms(CLOCK_REALTIME, ms);

    pthread_mutex_lock(&s->lock);
    while (!atomic_load(&s->raised))
        if (pthread_cond_timedwait(&s->wake, &s->lock, &until))
            break;
    pthread_mutex_unlock(&s->lock);
    return !atomic_load(&s->raised);
}
