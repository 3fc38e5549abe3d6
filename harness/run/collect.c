/* collect: scenario files -> cases. Every file is loaded and checked once
 * (a broken one is exit 2 before anything runs); a case per lab device of the
 * scenario's dialect and parameter set, kept by the selection (select.h) and
 * --shard, times --repeat; skipped up front when the device lacks a required
 * feature. A dialect nothing knows is exit 2 at the scenario's line. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "case_path.h"
#include "run_internal.h"

/* Every existing file named under a device's `images`, resolved. */
void collect_files(runner *rn, const cJSON *j) {
  if (cJSON_IsString(j)) {
    char real[PATH_MAX];
    struct stat st;
    if (!realpath(j->valuestring, real) || stat(real, &st) != 0 || !S_ISREG(st.st_mode)) return;
    char **grown = realloc(rn->files, (rn->nfiles + 2) * sizeof *grown);
    if (!grown) abort();
    rn->files = grown;
    rn->files[rn->nfiles++] = strdup(real);
    rn->files[rn->nfiles] = NULL;
    return;
  }
  for (const cJSON *c = j ? j->child : NULL; c; c = c->next) collect_files(rn, c);
}

static int requires_ok(const scenario *s, const lab_device *d, char *why, size_t len) {
  for (size_t i = 0; i < s->nrequires; i++) {
    if (!lab_device_has_feature(d, s->requires[i])) {
      snprintf(why, len, "device '%s' lacks the feature '%s'", d->name, s->requires[i]);
      return 0;
    }
  }
  return 1;
}

/* Reads and checks one scenario file (exit 2 material on error). */
static int read_one(runner *rn, const char *file, scenario *sc, char *err, size_t errlen) {
  evlog *log = evlog_new();
  rt *R = new_rt(rn, log, err, errlen);
  int rc = R ? load_scenario(R, file, err, errlen) : -1;
  if (rc == 0) rc = scenario_read(rt_lua(R), file, sc, err, errlen);
  rt_free(R);
  evlog_free(log);
  if (rc != 0) return -1;
  if (catalogue_check_scenario(rn->cat, sc, err, errlen) != 0) {
    scenario_clear(sc);
    return -1;
  }
  if (!catalogue_has(rn->cat, "dialects", sc->dialect)) {
    char where[PATH_MAX + 32];
    scenario_key_where(file, "dialect", where, sizeof where);
    snprintf(err, errlen,
             "%s: dialect '%s'%s matches no lab device and no dialect library (the dialects of %s/catalogue.lua)",
             where, sc->dialect, strcmp(sc->dialect, sc->suite) == 0 ? " (its folder's name)" : "", rn->lib_dir);
    scenario_clear(sc);
    return -1;
  }
  return 0;
}

#define CASES_MAX 100000

static kase *new_case(runner *rn, char *err, size_t errlen) {
  if (rn->ncases >= CASES_MAX) {
    snprintf(err, errlen, "more than %d cases (scenarios x devices x params x --repeat): run fewer at once",
             CASES_MAX);
    return NULL;
  }
  if (rn->ncases % 256 == 0) {
    kase *grown = realloc(rn->cases, (rn->ncases + 257) * sizeof *grown);
    if (!grown) abort();
    rn->cases = grown;
  }
  kase *k = &rn->cases[rn->ncases];
  memset(k, 0, sizeof *k);
  k->rn = rn;
  k->idx = rn->ncases++;
  k->seed = rn->o->seed;
  k->iteration = 1;
  return k;
}

/* The cases of one scenario: one per device of its dialect and parameter set
 * that the selection and the shard keep. */
static int add_cases(runner *rn, const scenario *sc, size_t *matched, char *err, size_t errlen) {
  int devices = 0;
  for (size_t d = 0; d < rn->lab->count; d++) {
    const lab_device *ld = &rn->lab->devices[d];
    if (strcmp(ld->dialect, sc->dialect) != 0) continue;
    devices++;
    for (size_t p = 0; p < (sc->nparams ? sc->nparams : 1); p++) {
      char id[sizeof rn->cases->id];
      if (sc->nparams) snprintf(id, sizeof id, "%s/%s[%s]@%s", sc->suite, sc->base, sc->param_labels[p], ld->name);
      else snprintf(id, sizeof id, "%s/%s@%s", sc->suite, sc->base, ld->name);
      if (!select_keeps(&rn->o->sel, id, sc->tags, sc->ntags)) continue;
      if (rn->o->shard_count && (*matched)++ % (size_t)rn->o->shard_count != (size_t)(rn->o->shard_index - 1))
        continue;
      for (size_t j = 0; j < rn->ncases; j++)
        if (strcmp(rn->cases[j].id, id) == 0) {
          /* one log would overwrite the other, and a filter could not tell them apart */
          snprintf(err, errlen, "%s and %s both make the case %s: rename one (or put it in another folder)",
                   rn->cases[j].sc.file, sc->file, id);
          return -1;
        }
      kase *k = new_case(rn, err, errlen);
      if (!k) return -1;
      snprintf(k->id, sizeof k->id, "%s", id);
      k->dev = rn->devices[d];
      k->param = sc->nparams ? (int)p + 1 : 0;
      scenario_copy(&k->sc, sc);
    }
  }
  char suite_base[sizeof rn->cases->id];
  snprintf(suite_base, sizeof suite_base, "%s/%s", sc->suite, sc->base);
  if (!devices && select_may_keep(&rn->o->sel, suite_base, sc->tags, sc->ntags)) {
    /* a selected scenario that makes no case: the summary says so, exit 1 */
    char line[512];
    snprintf(line, sizeof line, "%s/%s (dialect %s)", sc->suite, sc->base, sc->dialect);
    select_add((const char ***)&rn->no_case, &rn->nno_case, strdup(line));
  }
  return 0;
}

/* --repeat N: iterations 2..N of every case, each with its seed in its id. */
static int repeat_cases(runner *rn, char *err, size_t errlen) {
  size_t base = rn->ncases;
  for (int it = 2; it <= rn->o->repeat; it++)
    for (size_t i = 0; i < base; i++) {
      kase *k = new_case(rn, err, errlen);
      if (!k) return -1;
      const kase *b = &rn->cases[i];
      k->dev = b->dev;
      k->param = b->param;
      k->iteration = it;
      uint64_t z = rn->o->seed + 0x9E3779B97F4A7C15ULL * (uint64_t)it; /* splitmix64 */
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      k->seed = (z ^ (z >> 31)) & 0x1FFFFFFFFFFFFFULL; /* exact in a JSON number */
      if (snprintf(k->id, sizeof k->id, "%s#%d,seed=%llu", b->id, it, (unsigned long long)k->seed) >=
          (int)sizeof k->id) {
        snprintf(err, errlen, "case id too long with --repeat: %s", b->id);
        return -1;
      }
      scenario_copy(&k->sc, &b->sc);
    }
  if (rn->o->repeat > 1)
    for (size_t i = 0; i < base; i++) { /* the first iteration says it is one, with the run's seed */
      char id[sizeof rn->cases->id];
      if (snprintf(id, sizeof id, "%s#1,seed=%llu", rn->cases[i].id, (unsigned long long)rn->o->seed) >=
          (int)sizeof id) {
        snprintf(err, errlen, "case id too long with --repeat: %s", rn->cases[i].id);
        return -1;
      }
      memcpy(rn->cases[i].id, id, sizeof id);
    }
  return 0;
}

/* Loads every scenario once, so that a broken file is exit 2 before anything runs;
 * then makes the cases (ids, files, features). */
static int collect(runner *rn, char **files, size_t nfiles, char *err, size_t errlen) {
  size_t matched = 0; /* cases the selection kept, in file order: --shard deals them round-robin */
  for (size_t i = 0; i < nfiles; i++) {
    scenario sc;
    if (read_one(rn, files[i], &sc, err, errlen) != 0) return -1;
    int rc = add_cases(rn, &sc, &matched, err, errlen);
    scenario_clear(&sc);
    if (rc != 0) return -1;
  }
  if (repeat_cases(rn, err, errlen) != 0) return -1;
  for (size_t i = 0; i < rn->ncases; i++) {
    kase *k = &rn->cases[i];
    const char *hash = rn->o->repeat > 1 ? strrchr(k->id, '#') : NULL;
    k->id_base = hash ? (size_t)(hash - k->id) : strlen(k->id);
    case_path(k->id, k->safe_id, sizeof k->safe_id);
    char why[256];
    if (!requires_ok(&k->sc, device_lab(k->dev), why, sizeof why)) {
      k->out = O_SKIP;
      k->message = strdup(why);
      k->state = K_DONE;
    }
  }
  return 0;
}

/* The scenarios found and checked, their cases made; then the run document
 * with every case pending. Returns 0 or an exit code. */
int plan(runner *rn, char ***files, size_t *nfiles, char *err, size_t errlen) {
  const runner_opts *o = rn->o;
  if (scenario_find(o->paths, o->npaths, files, nfiles, err, errlen) != 0 ||
      collect(rn, *files, *nfiles, err, errlen) != 0)
    return fail_start(rn, EXIT_USAGE, err);
  if (rn->ncases == 0) {
    snprintf(err, errlen, "no scenario case to run (%zu files; check the paths, --filter/--exclude/--tag and the lab's dialects)",
             *nfiles);
    return fail_start(rn, EXIT_USAGE, err);
  }
  cJSON_Delete(rn->doc);
  rn->doc = new_doc(o);
  add_pending_entries(rn);
  /* until the last write the run itself is an ERROR too: a report a killed
     otahil leaves behind never reads green, even when every case had passed */
  add_run_entry(rn, "the run has not finished (if this stays, otahil was stopped: a kill or a crash)");
  cJSON *scs = cJSON_GetObjectItemCaseSensitive(rn->doc, "scenarios");
  cJSON_AddTrueToObject(cJSON_GetArrayItem(scs, cJSON_GetArraySize(scs) - 1), "pending");
  return 0;
}
