/*
 * The scheduler extender's verbs (DESIGN section 5), as kube-scheduler calls
 * them: filter (ExtenderArgs -> ExtenderFilterResult), prioritize
 * (ExtenderArgs -> HostPriorityList, scores 0..10) and bind
 * (ExtenderBindingArgs -> ExtenderBindingResult). Both nodeCacheCapable
 * modes: a request that carries Nodes (a NodeList) is answered with Nodes,
 * one that carries NodeNames with NodeNames, and only names that were sent
 * come back. Field names are matched case-insensitively. Malformed input is
 * a 400 whose body is the verb's result with Error set.
 */
#ifndef SP_SCHED_H
#define SP_SCHED_H

#include <stddef.h>

#include "svc/svc.h"
#include "server/srv.h"
#include "util/sp_error.h"

sp_rc sched_filter(svc *c, const char *body, size_t len, srv_response *resp)
    __attribute__((warn_unused_result));
sp_rc sched_prioritize(svc *c, const char *body, size_t len, srv_response *resp)
    __attribute__((warn_unused_result));
sp_rc sched_bind(svc *c, const char *body, size_t len, srv_response *resp)
    __attribute__((warn_unused_result));

#endif /* SP_SCHED_H */
