/*
 * PEPlacement objects and the service's placement records, both ways: the
 * object's name for a PE (<job>-<pe>, made a valid DNS subdomain), its
 * status from a record, and a record from an object a watch delivers.
 * Times on the wire are RFC 3339 in UTC, as Kubernetes writes them.
 */
#include "reconciler/rec_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kobj/kobj.h"
#include "kobj/kobj_json.h"
#include "util/sp_map.h"

#define NAME_MAX_LEN 253
#define REASON_MAX 2048 /* bytes of status.reason kept: objects have a size cap */

sp_rc rec_placement_name(const char *job, const char *pe, char *buf, size_t len)
{
    char raw[2 * NAME_MAX_LEN];
    size_t n = 0;
    bool changed = false;
    int w = snprintf(raw, sizeof(raw), "%s-%s", job, pe);

    if (w < 0 || (size_t)w >= sizeof(raw) || len < NAME_MAX_LEN + 1)
        return SP_ELIMIT;
    for (size_t i = 0; raw[i]; i++) {
        unsigned char ch = (unsigned char)raw[i];
        char out = isupper(ch) ? (char)tolower(ch) : (char)ch;
        if (!(islower((unsigned char)out) || isdigit((unsigned char)out) || out == '-' ||
              out == '.'))
            out = '-';
        changed |= out != raw[i];
        raw[n++] = out;
    }
    raw[n] = '\0';
    /* a name that had to change gets a hash of the original, so that two
     * PEs never share an object */
    if (changed || n > NAME_MAX_LEN - 10) {
        uint64_t h = sp_hash_bytes(job, strlen(job)) ^ sp_hash_u64(sp_hash_bytes(pe, strlen(pe)));
        raw[n > NAME_MAX_LEN - 10 ? NAME_MAX_LEN - 10 : n] = '\0';
        w = snprintf(buf, len, "%s-%08x", raw, (unsigned)(h & 0xffffffffu));
    } else {
        w = snprintf(buf, len, "%s", raw);
    }
    while (w > 0 && !isalnum((unsigned char)buf[0])) /* must start with one */
        memmove(buf, buf + 1, (size_t)w--);
    return w > 0 ? SP_OK : SP_ELIMIT;
}

void rec_time_format(int64_t unix_s, char *buf, size_t len)
{
    time_t t = (time_t)unix_s;
    struct tm tm;

    if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
        buf[0] = '\0';
}

int64_t rec_time_parse(const char *s)
{
    struct tm tm = { 0 };

    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

/* Add key: value when value is set. */
static bool add_opt(cJSON *o, const char *key, const char *value)
{
    return !value || cJSON_AddStringToObject(o, key, value);
}

static bool add_time(cJSON *o, const char *key, int64_t t)
{
    char buf[32];

    if (!t)
        return true;
    rec_time_format(t, buf, sizeof(buf));
    return cJSON_AddStringToObject(o, key, buf) != NULL;
}

/* reason cut to REASON_MAX bytes (at a UTF-8 boundary, marked "...") */
static const char *short_reason(const char *reason, char *buf, size_t len)
{
    size_t n;

    if (!reason || strlen(reason) < len)
        return reason;
    n = len - 4;
    while (n > 0 && ((unsigned char)reason[n] & 0xc0) == 0x80)
        n--;
    memcpy(buf, reason, n);
    memcpy(buf + n, "...", 4);
    return buf;
}

cJSON *rec_placement_status(const store_placement *p, int64_t generation)
{
    char reason[REASON_MAX];
    cJSON *st = cJSON_CreateObject();

    if (!st || !add_opt(st, "pod", p->pod) || !add_opt(st, "podUID", p->uid) ||
        !add_opt(st, "node", p->node) || !add_opt(st, "previousNode", p->previous_node) ||
        !add_opt(st, "phase", p->phase) ||
        !add_opt(st, "reason", short_reason(p->reason, reason, sizeof(reason))) ||
        !add_time(st, "decidedAt", p->decided_at) ||
        !add_time(st, "reservationExpiresAt", p->expires_at) ||
        !cJSON_AddNumberToObject(st, "launches", (double)p->launches) ||
        !cJSON_AddNumberToObject(st, "observedGeneration", (double)generation)) {
        cJSON_Delete(st);
        return NULL;
    }
    return st;
}

cJSON *rec_placement_object(const char *ns, const char *name, const store_placement *p)
{
    cJSON *o = cJSON_CreateObject(), *meta, *labels, *spec;

    if (!o)
        return NULL;
    meta = cJSON_AddObjectToObject(o, "metadata");
    labels = meta ? cJSON_AddObjectToObject(meta, "labels") : NULL;
    spec = cJSON_AddObjectToObject(o, "spec");
    if (!cJSON_AddStringToObject(o, "apiVersion", "placement.streams.io/v1alpha1") ||
        !cJSON_AddStringToObject(o, "kind", "PEPlacement") || !labels || !spec ||
        !cJSON_AddStringToObject(meta, "name", name) ||
        !cJSON_AddStringToObject(meta, "namespace", ns) ||
        !cJSON_AddStringToObject(labels, PLACE_LABEL_JOB, p->job) ||
        !cJSON_AddStringToObject(spec, "job", p->job) ||
        !cJSON_AddStringToObject(spec, "pe", p->pe)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static const char *str_at(const cJSON *o, const char *key)
{
    const cJSON *v = kobj_member(o, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

sp_rc rec_placement_from_json(const cJSON *obj, store_placement *p, sp_err *err)
{
    const cJSON *meta = kobj_member(obj, "metadata");
    const cJSON *spec = kobj_member(obj, "spec");
    const cJSON *st = kobj_member(obj, "status");
    const cJSON *launches = kobj_member(st, "launches");

    memset(p, 0, sizeof(*p));
    p->namespace_ = str_at(meta, "namespace");
    p->job = str_at(spec, "job");
    p->pe = str_at(spec, "pe");
    if (!p->namespace_ || !p->job || !p->pe)
        return sp_err_set(err, SP_EPARSE,
                          "PEPlacement %s: metadata.namespace, spec.job and spec.pe are required",
                          str_at(meta, "name") ? str_at(meta, "name") : "(unnamed)");
    p->pod = str_at(st, "pod");
    p->uid = str_at(st, "podUID");
    p->node = str_at(st, "node");
    p->previous_node = str_at(st, "previousNode");
    p->phase = str_at(st, "phase");
    p->reason = str_at(st, "reason");
    p->decided_at = rec_time_parse(str_at(st, "decidedAt"));
    p->expires_at = rec_time_parse(str_at(st, "reservationExpiresAt"));
    p->launches = cJSON_IsNumber(launches) ? (int64_t)launches->valuedouble : 0;
    return SP_OK;
}
