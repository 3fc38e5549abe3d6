#include "child_guard.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

int child_guard_arm(pid_t parent) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return -1;
  /* the parent may have died between fork and prctl: then we were already
   * re-parented and no signal will come */
  return getppid() == parent ? 0 : -1;
}

static int executable(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return -errno;
  if (!S_ISREG(st.st_mode)) return -EACCES;
  return access(path, X_OK) == 0 ? 0 : -errno;
}

int child_guard_check_exec(const char *file) {
  if (!file || !*file) return -ENOENT;
  if (strchr(file, '/')) return executable(file);
  const char *path = getenv("PATH");
  if (!path) path = "/bin:/usr/bin";
  int rc = -ENOENT;
  while (*path) {
    size_t n = strcspn(path, ":");
    char full[PATH_MAX];
    /* an empty PATH entry is the current folder, as for execvp */
    int w = n ? snprintf(full, sizeof full, "%.*s/%s", (int)n, path, file)
              : snprintf(full, sizeof full, "./%s", file);
    if (w < (int)sizeof full) {
      int r = executable(full);
      if (r == 0) return 0;
      if (r == -EACCES) rc = r; /* execvp reports EACCES if one was found but refused */
    }
    path += n;
    if (*path == ':') path++;
  }
  return rc;
}

/* otahil-child beside this executable (otahil), else the build tree's (for
 * test programs, which live elsewhere in it). */
static int shim_path(char *out, size_t len) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = 0;
    if (snprintf(out, len, "%s/otahil-child", dirname(self)) < (int)len && executable(out) == 0)
      return 0;
  }
#ifdef OTAHIL_CHILD_SHIM
  if (snprintf(out, len, "%s", OTAHIL_CHILD_SHIM) < (int)len && executable(out) == 0) return 0;
#endif
  return -1;
}

/* {shim, [mode,] pid, argv...} */
static char **wrapped(const char *mode, char *const argv[]) {
  char shim[PATH_MAX];
  if (shim_path(shim, sizeof shim) != 0) return NULL;
  size_t n = 0, k = 0;
  while (argv[n]) n++;
  char **out = calloc(n + 4, sizeof *out);
  if (!out) return NULL;
  char pid[32];
  snprintf(pid, sizeof pid, "%ld", (long)getpid());
  int ok = (out[k++] = strdup(shim)) != NULL;
  if (ok && mode) ok = (out[k++] = strdup(mode)) != NULL;
  if (ok) ok = (out[k++] = strdup(pid)) != NULL;
  for (size_t i = 0; i < n && ok; i++) ok = (out[k++] = strdup(argv[i])) != NULL;
  if (!ok) {
    child_guard_free(out);
    return NULL;
  }
  return out;
}

char **child_guard_argv(char *const argv[]) { return wrapped(NULL, argv); }
char **child_guard_tree_argv(char *const argv[]) { return wrapped("--tree", argv); }

void child_guard_free(char **argv) {
  if (!argv) return;
  for (char **a = argv; *a; a++) free(*a);
  free(argv);
}
