/* collect: scenario files -> cases. Every file is loaded and checked once
 * (a broken one is exit 2 before anything runs); a case per lab device of the
 * scenario's dialect, kept by --filter and --shard, skipped up front when the
 * device lacks a required feature. */
#include <fnmatch.h>
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
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(d->spec, "features");
  for (size_t i = 0; i < s->nrequires; i++) {
    int found = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, f) if (strcmp(x->valuestring, s->requires[i]) == 0) found = 1;
    if (!found) {
      snprintf(why, len, "device '%s' lacks the feature '%s'", d->name, s->requires[i]);
      return 0;
    }
  }
  return 1;
}

/* Loads every scenario once, so that a broken file is exit 2 before anything runs. */
static int collect(runner *rn, char **files, size_t nfiles, char *err, size_t errlen) {
  rn->cases = calloc(nfiles * (rn->lab->count ? rn->lab->count : 1) + 1, sizeof *rn->cases);
  size_t matched = 0; /* cases the filter kept, in file order: --shard deals them round-robin */
  for (size_t i = 0; i < nfiles; i++) {
    evlog *log = evlog_new();
    rt *R = new_rt(rn, log, err, errlen);
    scenario sc;
    int rc = R ? load_scenario(R, files[i], err, errlen) : -1;
    if (rc == 0) rc = scenario_read(rt_lua(R), files[i], &sc, err, errlen);
    rt_free(R);
    evlog_free(log);
    if (rc != 0) return -1;
    if (catalogue_check_scenario(rn->cat, &sc, err, errlen) != 0) {
      scenario_clear(&sc);
      return -1;
    }
    int used = 0;
    for (size_t d = 0; d < rn->lab->count; d++) {
      const lab_device *ld = &rn->lab->devices[d];
      if (strcmp(lab_str(ld, "dialect"), sc.dialect) != 0) continue;
      kase *k = &rn->cases[rn->ncases];
      snprintf(k->id, sizeof k->id, "%s/%s@%s", sc.suite, sc.base, ld->name);
      if (rn->o->filter && fnmatch(rn->o->filter, k->id, 0) != 0) continue;
      if (rn->o->shard_count &&
          matched++ % (size_t)rn->o->shard_count != (size_t)(rn->o->shard_index - 1))
        continue;
      k->rn = rn;
      k->idx = rn->ncases++;
      k->dev = rn->devices[d];
      case_path(k->id, k->safe_id, sizeof k->safe_id);
      for (size_t j = 0; j < k->idx; j++)
        if (strcmp(rn->cases[j].id, k->id) == 0) {
          /* one log would overwrite the other, and a filter could not tell them apart */
          snprintf(err, errlen, "%s and %s both make the case %s: rename one (or put it in another folder)",
                   rn->cases[j].sc.file, files[i], k->id);
          rn->ncases--;
          if (!used) scenario_clear(&sc);
          return -1;
        }
      k->sc = sc;
      if (used++) { /* each case owns its copy */
        k->sc.file = strdup(sc.file), k->sc.suite = strdup(sc.suite), k->sc.base = strdup(sc.base);
        k->sc.name = strdup(sc.name), k->sc.dialect = strdup(sc.dialect);
        k->sc.requires = calloc(sc.nrequires + 1, sizeof(char *));
        for (size_t r = 0; r < sc.nrequires; r++) k->sc.requires[r] = strdup(sc.requires[r]);
      }
      char why[256];
      if (!requires_ok(&k->sc, ld, why, sizeof why)) {
        k->out = O_SKIP;
        k->message = strdup(why);
        k->state = K_DONE;
      }
    }
    if (!used) scenario_clear(&sc);
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
    snprintf(err, errlen, "no scenario case to run (%zu files; check the paths, --filter and the lab's dialects)",
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
