/* lab_device: a checked declaration made the typed lab_device (lab_device.h). */
#include "lab_device.h"

#include <stdlib.h>
#include <string.h>

#include "lab_auth.h"
#include "lab_console.h"
#include "lab_deploy.h"
#include "lab_network.h"
#include "lab_placeholders.h"

static const cJSON *item(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

static const char *str(const cJSON *o, const char *key) { return cJSON_GetStringValue(item(o, key)); }

/* The strings of an array (or an object's values), NULL-terminated. */
static lab_list list_of(const cJSON *a) {
  lab_list l = {0, calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(char *))};
  if (!l.v) abort();
  for (const cJSON *x = a ? a->child : NULL; x; x = x->next)
    if (cJSON_IsString(x)) l.v[l.n++] = x->valuestring;
  return l;
}

static lab_pairs pairs_of(const cJSON *o) {
  size_t n = (size_t)cJSON_GetArraySize(o);
  lab_pairs p = {0, calloc(n + 1, sizeof(char *)), calloc(n + 1, sizeof(char *))};
  if (!p.keys || !p.values) abort();
  for (const cJSON *x = o ? o->child : NULL; x; x = x->next) {
    if (!cJSON_IsString(x) || !x->string) continue;
    p.keys[p.n] = x->string;
    p.values[p.n++] = x->valuestring;
  }
  return p;
}

static void tls_of(const cJSON *spec, lab_tls_files *t) {
  const cJSON *tls = item(spec, "tls"); /* lab_tls.h: absent for plain TCP, else { ca, cert, key [, pki] } */
  memset(t, 0, sizeof *t);
  if (!tls) return;
  t->on = 1;
  t->ca = str(tls, "ca");
  t->cert = str(tls, "cert");
  t->key = str(tls, "key");
  t->pki = str(tls, "pki");
}

void lab_device_build(lab_device *d) {
  const cJSON *spec = d->spec;
  d->dialect = str(spec, "dialect");
  d->product = str(spec, "product");
  d->device = str(spec, "device");
  d->version = str(spec, "version");
  d->secret = str(spec, "secret");
  const char *kind = str(spec, "kind"); /* lab_power.c sets the default */
  d->kind = kind && strcmp(kind, "board") == 0 ? LAB_BOARD : LAB_PROCESS;
  d->cmd = list_of(d->kind == LAB_PROCESS ? item(spec, "cmd") : NULL);
  d->graceful = cJSON_IsTrue(item(spec, "graceful"));
  d->env = pairs_of(item(spec, "env"));
  d->power = d->kind == LAB_BOARD ? item(spec, "power") : NULL;
  d->net = lab_network_of(spec);
  tls_of(spec, &d->tls);
  d->auth_platform = lab_auth_platform(spec);
  lab_console_config(spec, &d->console);
  d->death = lab_console_death(spec);
  const cJSON *dep = item(spec, "deploy");
  d->deploy.on = dep != NULL;
  d->deploy.cmd = list_of(item(dep, "cmd"));
  const cJSON *t = item(dep, "timeout");
  d->deploy.timeout_s = cJSON_IsNumber(t) ? t->valuedouble : LAB_DEPLOY_TIMEOUT;
  d->base_image = str(spec, "base_image");
  d->images = item(spec, "images");
  d->timing.n = 0;
  for (const cJSON *k = item(spec, "timing") ? item(spec, "timing")->child : NULL; k && d->timing.n < LAB_TIMING_MAX;
       k = k->next)
    d->timing.knob[d->timing.n++] = (lab_knob){k->string, k->valuedouble};
  d->features = list_of(item(spec, "features"));
  d->strict = list_of(item(spec, "strict"));
  d->modules = pairs_of(item(spec, "modules"));
  d->lines = pairs_of(item(spec, "lines"));
  d->uses_mcu_tty = lab_placeholders_uses(spec, "mcu_tty") || lab_placeholders_uses(spec, "mcu_peer_tty");
}

static void pairs_free(lab_pairs *p) {
  free(p->keys);
  free(p->values);
}

void lab_device_clear(lab_device *d) {
  free(d->cmd.v);
  free(d->deploy.cmd.v);
  free(d->features.v);
  free(d->strict.v);
  pairs_free(&d->env);
  pairs_free(&d->modules);
  pairs_free(&d->lines);
  free(d->name);
  cJSON_Delete(d->spec);
  memset(d, 0, sizeof *d);
}

int lab_device_has_feature(const lab_device *d, const char *name) {
  for (size_t i = 0; i < d->features.n; i++)
    if (strcmp(d->features.v[i], name) == 0) return 1;
  return 0;
}

int lab_device_timing(const lab_device *d, const char *name, double *value) {
  for (size_t i = 0; i < d->timing.n; i++)
    if (strcmp(d->timing.knob[i].name, name) == 0) {
      *value = d->timing.knob[i].value;
      return 1;
    }
  return 0;
}
