/* lab_auth: the `auth` key of a lab device (lab_auth.h). */
#include "lab_auth.h"

#include <stdio.h>
#include <string.h>

int lab_auth_check(const cJSON *spec, char *err, size_t errlen) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(spec, "auth");
  if (!a) return 0;
  if (!cJSON_IsString(a) || (strcmp(a->valuestring, "none") != 0 && strcmp(a->valuestring, "platform") != 0)) {
    snprintf(err, errlen, "auth must be \"none\" or \"platform\" (the dialect library checks the login)");
    return -1;
  }
  if (!strcmp(a->valuestring, "platform") && !cJSON_GetObjectItemCaseSensitive(spec, "secret")) {
    snprintf(err, errlen, "auth = \"platform\" needs secret = \"...\" (the device secret the login is signed with)");
    return -1;
  }
  return 0;
}

int lab_auth_platform(const cJSON *spec) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(spec, "auth");
  return cJSON_IsString(a) && strcmp(a->valuestring, "platform") == 0;
}
