#include "lab_power.h"

#include <stdio.h>
#include <string.h>

#include "power.h"

static int fail(char *err, size_t errlen, const char *msg) {
  snprintf(err, errlen, "%s", msg);
  return -1;
}

static int check_cmd(const cJSON *cmd, char *err, size_t errlen) {
  if (!cmd) return fail(err, errlen, "key 'cmd' is missing (a process device needs its command)");
  if (!cJSON_IsArray(cmd) || cJSON_GetArraySize(cmd) == 0)
    return fail(err, errlen, "cmd must be a non-empty list of strings");
  for (const cJSON *a = cmd->child; a; a = a->next)
    if (!cJSON_IsString(a)) return fail(err, errlen, "cmd must hold only strings");
  return 0;
}

int lab_power_check(cJSON *spec, char *err, size_t errlen) {
  cJSON *kind = cJSON_GetObjectItemCaseSensitive(spec, "kind");
  if (!kind) kind = cJSON_AddStringToObject(spec, "kind", "process");
  if (!cJSON_IsString(kind) || (strcmp(kind->valuestring, "process") && strcmp(kind->valuestring, "board"))) {
    snprintf(err, errlen, "kind '%s' is unknown (process, board)", cJSON_IsString(kind) ? kind->valuestring : "?");
    return -1;
  }
  int board = strcmp(kind->valuestring, "board") == 0;
  const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(spec, "cmd");
  const cJSON *power = cJSON_GetObjectItemCaseSensitive(spec, "power");
  if (!board && check_cmd(cmd, err, errlen) != 0) return -1;
  if (board && cmd)
    return fail(err, errlen, "cmd is for process devices; a board (kind = \"board\") is powered by its power driver");
  if (!power) {
    if (!board) return 0;
    snprintf(err, errlen, "key 'power' is missing (a board needs power = { driver = ... }: %s)",
             "exec, pdudaemon, serial-dtr, http");
    return -1;
  }
  if (power_check(power, err, errlen) != 0) return -1;
  const char *driver = power_cfg_driver(power);
  int process = strcmp(driver, "process") == 0;
  if (board && process)
    return fail(err, errlen, "power.driver 'process' needs kind = \"process\" and a cmd");
  if (!board && !process) {
    snprintf(err, errlen, "power.driver '%s' is for boards (kind = \"board\"); a process device's power is its process",
             driver);
    return -1;
  }
  if (!board && cJSON_GetObjectItemCaseSensitive(power, "at_exit"))
    return fail(err, errlen, "power.at_exit is for boards: a process device is always stopped when the run ends");
  return 0;
}
