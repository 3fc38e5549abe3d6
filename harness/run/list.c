/* list: otahil list, the scenarios found under the paths. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "rt_libs.h"
#include "run_internal.h"

int runner_list(char **paths, int npaths, const char *root, const selection *sel, const char *const *libs) {
  char **files = NULL;
  size_t n = 0;
  char err[2048], lib[PATH_MAX];
  snprintf(lib, sizeof lib, "%s/scenarios/lib", root);
  /* the same refusal as a run's: a lab library may not shadow a standard module */
  if (rt_libs_check(lib, libs, err, sizeof err) != 0) {
    fprintf(stderr, "otahil: %s\n", err);
    return EXIT_USAGE;
  }
  if (scenario_find(paths, npaths, &files, &n, err, sizeof err) != 0) {
    fprintf(stderr, "otahil: %s\n", err);
    return EXIT_USAGE;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  int code = EXIT_PASS;
  for (size_t i = 0; i < n; i++) {
    evlog *log = evlog_new();
    rt_config cfg = {.loop = &loop, .log = log, .lib_dir = lib, .lab_libs = libs};
    rt *R = rt_new(&cfg, err, sizeof err);
    if (R) open_modules(R);
    scenario sc;
    if (!R || load_scenario(R, files[i], err, sizeof err) != 0 ||
        scenario_read(rt_lua(R), files[i], &sc, err, sizeof err) != 0) {
      fprintf(stderr, "otahil: %s\n", err);
      code = EXIT_USAGE;
    } else {
      char id[512];
      snprintf(id, sizeof id, "%s/%s", sc.suite, sc.base);
      if (select_may_keep(sel, id, sc.tags, sc.ntags)) {
        printf("%-40s %s (%s, %.0f s", id, sc.name, sc.dialect, sc.timeout);
        if (sc.nparams) printf(", %zu parameter sets", sc.nparams);
        for (size_t t = 0; t < sc.ntags; t++) printf("%s%s", t ? " " : "; tags ", sc.tags[t]);
        printf(")\n");
      }
      scenario_clear(&sc);
    }
    rt_free(R);
    evlog_free(log);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  scenario_files_free(files, n);
  return code;
}
