#include "lab_deploy.h"

#include <stdio.h>
#include <string.h>

/* deploy.timeout at most (a day): the timer takes whole milliseconds as a
 * uint64_t, and math.huge or 1e300 would not fit */
#define TIMEOUT_MAX 86400.0

static int fail(char *err, size_t errlen, const char *msg) {
  snprintf(err, errlen, "%s", msg);
  return -1;
}

int lab_deploy_check(cJSON *spec, char *err, size_t errlen) {
  const cJSON *base = cJSON_GetObjectItemCaseSensitive(spec, "base_image");
  if (base && (!cJSON_IsString(base) || !*base->valuestring))
    return fail(err, errlen, "base_image must be a file name (the {image} of deploy.cmd)");
  cJSON *dep = cJSON_GetObjectItemCaseSensitive(spec, "deploy");
  if (!dep) return 0;
  const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(spec, "kind"));
  if (!kind || (strcmp(kind, "board") && strcmp(kind, "process")))
    return fail(err, errlen, "deploy is for boards and process devices (kind = \"board\" | \"process\")");
  if (!cJSON_IsObject(dep))
    return fail(err, errlen, "deploy must be a table: deploy = { cmd = { \"flash-tool\", \"{image}\" }, timeout = 120 }");
  for (const cJSON *k = dep->child; k; k = k->next)
    if (strcmp(k->string, "cmd") && strcmp(k->string, "timeout")) {
      snprintf(err, errlen, "deploy.%s is unknown (cmd, timeout)", k->string);
      return -1;
    }
  const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(dep, "cmd");
  if (!cmd)
    return fail(err, errlen, "deploy.cmd is missing (the flashing command as a list, e.g. "
                             "{ \"st-flash\", \"write\", \"{image}\", \"0x08000000\" })");
  if (!cJSON_IsArray(cmd) || cJSON_GetArraySize(cmd) == 0)
    return fail(err, errlen, "deploy.cmd must be a non-empty list of strings (argv; no shell)");
  int i = 1;
  for (const cJSON *a = cmd->child; a; a = a->next, i++) {
    if (!cJSON_IsString(a)) return fail(err, errlen, "deploy.cmd must hold only strings (argv; no shell)");
    /* the one placeholder that only the lab can make known: say so now, not at every case */
    if (!base && strstr(a->valuestring, "{image}")) {
      snprintf(err, errlen, "deploy.cmd[%d] uses {image} but base_image is not set", i);
      return -1;
    }
  }
  cJSON *t = cJSON_GetObjectItemCaseSensitive(dep, "timeout");
  if (!t) cJSON_AddNumberToObject(dep, "timeout", LAB_DEPLOY_TIMEOUT);
  else if (!cJSON_IsNumber(t) || !(t->valuedouble > 0) || !(t->valuedouble <= TIMEOUT_MAX))
    return fail(err, errlen, "deploy.timeout must be a number > 0 and <= 86400 (seconds the command may take)");
  return 0;
}
