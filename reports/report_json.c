/* report_json: the run document as a JSON file. */
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "report_util.h"

/* cJSON copies bytes through unchanged, so a device's invalid UTF-8 would make
 * the file unreadable to strict parsers: repair strings and keys in the copy. */
static int rj__sanitize(cJSON *node) {
  for (; node; node = node->next) {
    if (node->string && !(node->type & cJSON_StringIsConst)) {
      char *fixed = utf8_sanitize(node->string);
      if (!fixed) return -1;
      if (strcmp(fixed, node->string) != 0) {
        size_t n = strlen(fixed) + 1;
        char *k = cJSON_malloc(n);
        if (!k) {
          free(fixed);
          return -1;
        }
        memcpy(k, fixed, n);
        cJSON_free(node->string);
        node->string = k;
      }
      free(fixed);
    }
    if (cJSON_IsString(node) && node->valuestring) {
      char *fixed = utf8_sanitize(node->valuestring);
      if (!fixed) return -1;
      int same = strcmp(fixed, node->valuestring) == 0;
      char *set = same ? node->valuestring : cJSON_SetValuestring(node, fixed);
      free(fixed);
      if (!set) return -1;
    }
    if (node->child && rj__sanitize(node->child) != 0) return -1;
  }
  return 0;
}

/* Appends `v` pretty printed (sanitized copy), or returns -1 out of memory. */
static int rj__put(strbuf *b, const cJSON *v) {
  cJSON *copy = cJSON_Duplicate(v, 1);
  if (!copy || rj__sanitize(copy) != 0) {
    cJSON_Delete(copy);
    return -1;
  }
  char *text = cJSON_Print(copy);
  cJSON_Delete(copy);
  if (!text) return -1;
  sb_puts(b, text);
  cJSON_free(text);
  return 0;
}

/* One scenario with its events (from "events", or read from its "events_file":
 * the run document need not hold them; one scenario's are in memory at a time,
 * and each event is copied and printed on its own, so a case with 100k events
 * costs its parsed events and the output, not three copies of them). */
static int rj__scenario(strbuf *b, const cJSON *sc) {
  cJSON *owned;
  const cJSON *events = ru_events(sc, &owned);
  cJSON *one = cJSON_CreateObject();
  if (!one) {
    cJSON_Delete(owned);
    return -1;
  }
  int fields = 0;
  for (const cJSON *f = sc->child; f; f = f->next) {
    if (f->string && strcmp(f->string, "events") == 0) continue;
    cJSON_AddItemReferenceToObject(one, f->string, (cJSON *)f);
    fields++;
  }
  strbuf head;
  sb_init(&head);
  int rc = rj__put(&head, one);
  cJSON_Delete(one); /* references only: the document keeps its items */
  /* cJSON_Print ends an object with "}": the events go in before it */
  char *end = rc == 0 && head.p ? strrchr(head.p, '}') : NULL;
  if (!end) rc = -1;
  else {
    sb_add(b, head.p, (size_t)(end - head.p));
    sb_puts(b, fields ? ",\n\t\"events\":\t[" : "\t\"events\":\t[");
  }
  sb_free(&head);
  const cJSON *ev;
  int first = 1;
  cJSON_ArrayForEach(ev, events) {
    if (rc != 0) break;
    sb_puts(b, first ? "" : ", ");
    first = 0;
    rc = rj__put(b, ev);
  }
  sb_puts(b, "]\n}");
  cJSON_Delete(owned);
  return rc;
}

int report_write_json(const cJSON *run, const char *path, char *err, size_t errlen) {
  if (!path) {
    ru_err(err, errlen, "report_write_json: no path");
    return -1;
  }
  const cJSON *scs = ru_scenarios(run, "report_write_json", path, err, errlen);
  if (!scs) return -1;
  strbuf b;
  sb_init(&b);
  int rc = 0;
  sb_puts(&b, "{\n");
  for (const cJSON *f = run->child; f && rc == 0; f = f->next) {
    if (!f->string || strcmp(f->string, "scenarios") == 0) continue;
    cJSON *key = cJSON_CreateString(f->string);
    rc = key ? rj__put(&b, key) : -1;
    cJSON_Delete(key);
    sb_puts(&b, ": ");
    if (rc == 0) rc = rj__put(&b, f);
    sb_puts(&b, ",\n");
  }
  sb_puts(&b, "\"scenarios\": [");
  const cJSON *sc;
  int first = 1;
  cJSON_ArrayForEach(sc, scs) {
    if (rc != 0) break;
    sb_puts(&b, first ? "\n" : ",\n");
    first = 0;
    rc = rj__scenario(&b, sc);
  }
  sb_puts(&b, "]\n}\n");
  if (rc != 0) {
    sb_free(&b);
    ru_err(err, errlen, "report_write_json %s: out of memory", path);
    return -1;
  }
  rc = ru_finish(&b, "report_write_json", path, err, errlen);
  sb_free(&b);
  return rc;
}
