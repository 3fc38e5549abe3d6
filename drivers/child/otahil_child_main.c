/* otahil-child PARENT_PID PROGRAM [ARGS...]: runs PROGRAM so that it is killed
 * (SIGKILL) when PARENT_PID, the process that spawned us, dies; exits at once
 * if that parent is already gone. See child_guard.h. Exit 127 if PROGRAM
 * cannot be run, as a shell does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child_guard.h"

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: otahil-child PARENT_PID PROGRAM [ARGS...]\n");
    return 127;
  }
  char *end = NULL;
  errno = 0;
  long parent = strtol(argv[1], &end, 10);
  if (errno || !end || *end || parent <= 1) {
    fprintf(stderr, "otahil-child: bad parent pid '%s'\n", argv[1]);
    return 127;
  }
  /* the parent died before we could be tied to it: nothing must run */
  if (child_guard_arm((pid_t)parent) != 0) return 0;
  execvp(argv[2], argv + 2);
  fprintf(stderr, "otahil-child: cannot run %s: %s\n", argv[2], strerror(errno));
  return 127;
}
