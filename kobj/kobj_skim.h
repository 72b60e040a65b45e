/*
 * Skimming Kubernetes JSON before it is parsed. Every object the API server
 * sends carries metadata.managedFields (server-side apply's record of who
 * set which field): in a typical PE pod it is 40% of the bytes and more of
 * the JSON nodes, and nothing in this program reads it. Parsing it was a
 * third of an admission review's cost. kobj_skim_managed_fields cuts the
 * contents of those arrays out of the text itself, before cJSON sees it.
 */
#ifndef SP_KOBJ_SKIM_H
#define SP_KOBJ_SKIM_H

#include <stddef.h>

#define KOBJ_SKIM_MAX_DEPTH 64  /* levels of arrays and objects in an array it
                                   empties, its own level included */

/*
 * In the JSON text json (*len bytes), cut out the contents of every array
 * that is the value of a member named exactly "managedFields", leaving "[]";
 * *len becomes the new length (the bytes after it are left over, not cleared).
 * Only arrays that are valid JSON (RFC 8259; strings whose \u escapes cJSON
 * also takes, numbers cJSON reads whole, at most KOBJ_SKIM_MAX_DEPTH deep)
 * are cut, so a text cJSON would refuse stays refused; but a syntax error
 * after a cut is found earlier in the text than it is: report the error of
 * the original. Returns how many arrays it emptied.
 */
size_t kobj_skim_managed_fields(char *json, size_t *len);

#endif /* SP_KOBJ_SKIM_H */
