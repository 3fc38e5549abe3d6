/* otahil-child PARENT_PID PROGRAM [ARGS...]: runs PROGRAM so that it is killed
 * (SIGKILL) when PARENT_PID, the process that spawned us, dies; exits at once
 * if that parent is already gone. With --tree first, it stays as the
 * supervisor of PROGRAM's whole process tree instead (child_tree.h). PROGRAM gets only stdin, stdout and stderr:
 * every other descriptor is closed. See child_guard.h. Exit 127 if PROGRAM
 * cannot be run, as a shell does. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child_guard.h"
#include "child_tree.h"

/* uv_spawn closes only descriptors marked close-on-exec, and libmosquitto's
 * sockets (and its internal socketpair) are not: without this, a device or a
 * flasher would hold otahil's cloud MQTT connection (and keep it open after
 * otahil closed it). Nothing otahil starts is given more than fds 0-2. */
static void close_above_stderr(void) {
  if (close_range(3, ~0U, 0) == 0) return;
  /* ENOSYS (a kernel before 5.9): close what /proc says is open */
  DIR *d = opendir("/proc/self/fd");
  if (d) {
    int own = dirfd(d);
    struct dirent *e;
    /* /proc lists fds by number, so closing one does not disturb the walk */
    while ((e = readdir(d)) != NULL) {
      char *end = NULL;
      long fd = strtol(e->d_name, &end, 10);
      if (end != e->d_name && !*end && fd > 2 && fd != own) close((int)fd);
    }
    closedir(d);
    return;
  }
  /* no /proc either: every possible one */
  long max = sysconf(_SC_OPEN_MAX);
  for (long fd = 3; fd < (max > 0 ? max : 1024); fd++) close((int)fd);
}

int main(int argc, char **argv) {
  int tree = argc > 1 && strcmp(argv[1], "--tree") == 0;
  argc -= tree;
  argv += tree;
  if (argc < 3) {
    fprintf(stderr, "usage: otahil-child [--tree] PARENT_PID PROGRAM [ARGS...]\n");
    return 127;
  }
  char *end = NULL;
  errno = 0;
  long parent = strtol(argv[1], &end, 10);
  if (errno || !end || *end || parent <= 1) {
    fprintf(stderr, "otahil-child: bad parent pid '%s'\n", argv[1]);
    return 127;
  }
  if (tree) { /* a device: supervised, see child_tree.h */
    close_above_stderr();
    return child_tree_run((pid_t)parent, argv + 2);
  }
  /* the parent died before we could be tied to it: nothing must run */
  if (child_guard_arm((pid_t)parent) != 0) return 0;
  close_above_stderr();
  execvp(argv[2], argv + 2);
  fprintf(stderr, "otahil-child: cannot run %s: %s\n", argv[2], strerror(errno));
  return 127;
}
