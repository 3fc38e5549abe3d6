#include "mcu_link.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child_guard.h"
#include "console.h"
#include "errmsg.h"
#include "mcu_proto.h"

#define ANSWER_MS 400

struct mcu_link {
  int fd;
  pid_t pid;
  uint16_t seq;
};

mcu_link *mcu_link_open(const mcu_link_opts *o, char *err, size_t errlen) {
  char exe[PATH_MAX];
  if (o->exec) {
    snprintf(exe, sizeof exe, "%s", o->exec);
  } else {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
      errmsg(err, errlen, "mcu: cannot find otamcu (readlink /proc/self/exe: %s)", strerror(errno));
      return NULL;
    }
    self[n] = 0;
    snprintf(exe, sizeof exe, "%s/otamcu", dirname(self));
  }
  if (access(exe, X_OK) != 0) {
    errmsg(err, errlen, "mcu: %s: %s", exe, strerror(errno));
    return NULL;
  }
  mcu_link *l = calloc(1, sizeof *l);
  if (!l) {
    errmsg(err, errlen, "mcu: out of memory");
    return NULL;
  }
  l->fd = mcu_tty_open(o->tty, err, errlen);
  if (l->fd < 0) {
    free(l);
    return NULL;
  }
  char *argv[] = {exe, "--tty", (char *)o->peer_tty, "--state", (char *)o->state_dir, "--version",
                  (char *)o->version, o->no_crc ? "--no-crc" : NULL, NULL};
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    errmsg(err, errlen, "mcu: fork: %s", strerror(errno));
    close(l->fd);
    free(l);
    return NULL;
  }
  if (pid == 0) {
    /* one board: when the module loses power, so does the MCU */
    if (child_guard_arm(parent) != 0) _exit(0);
    execv(exe, argv);
    _exit(127);
  }
  l->pid = pid;
  console_log("mcu started: %s (pid %d) on %s", exe, (int)pid, o->peer_tty);
  return l;
}

/* Sends one frame and waits for its answer; skips answers to older frames. */
static int exchange(mcu_link *l, mcu_frame *f, mcu_frame *ans) {
  f->seq = ++l->seq;
  if (l->seq == 0xFFFF) l->seq = 0;
  if (mcu_frame_send(l->fd, f) != 0) return -1;
  for (;;) {
    int r = mcu_frame_read(l->fd, ans, ANSWER_MS, 1);
    if (r <= 0) return 0; /* silence or a damaged answer: send again */
    if (ans->seq == f->seq || ans->seq == 0xFFFF) return 1;
  }
}

int mcu_link_version(mcu_link *l, char *version, size_t len, int tries, char *err, size_t errlen) {
  for (int i = 0; i < tries; i++) {
    mcu_frame q = {.type = MCU_T_VERSION_Q}, a;
    if (exchange(l, &q, &a) == 1 && a.type == MCU_T_VERSION && a.len > 0) {
      size_t n = strcspn((const char *)a.payload, " ");
      if (n >= len) n = len - 1;
      memcpy(version, a.payload, n);
      version[n] = 0;
      return 0;
    }
  }
  errmsg(err, errlen, "mcu: no answer to a version query after %d tries", tries);
  return -1;
}

/* One frame, resent until acknowledged or `tries` run out. Returns 0, -1
 * (`err` set) or 1 (stopped). */
static int reliable(mcu_link *l, mcu_frame *f, int tries, int *resent, const char *what,
                    mcu_link_progress progress, void *ctx, uint32_t sent, uint32_t size, char *err,
                    size_t errlen) {
  mcu_frame a;
  char last[128] = "no answer";
  for (int i = 0; i < tries; i++) {
    if (i > 0) {
      (*resent)++;
      console_log("mcu: %s: %s, sending again (%d/%d)", what, last, i + 1, tries);
    }
    if (progress && progress(ctx, sent, size)) return 1;
    int r = exchange(l, f, &a);
    if (r < 0) {
      errmsg(err, errlen, "mcu: %s: cannot write to the serial line", what);
      return -1;
    }
    if (r == 1 && a.type == MCU_T_ACK) return 0;
    if (r == 1 && a.type == MCU_T_NAK)
      snprintf(last, sizeof last, "NAK (%.100s)", a.len ? (const char *)a.payload : "no reason");
    else if (r == 1)
      snprintf(last, sizeof last, "unexpected answer '%c'", a.type);
    else
      snprintf(last, sizeof last, "no answer within %d ms", ANSWER_MS);
  }
  errmsg(err, errlen, "mcu: %s failed after %d tries: %s", what, tries, last);
  return -1;
}

int mcu_link_transfer(mcu_link *l, const char *path, const char *version, uint32_t crc, int tries,
                      mcu_link_progress progress, void *ctx, int *resent, char *err, size_t errlen) {
  FILE *in = fopen(path, "rb");
  if (!in) {
    errmsg(err, errlen, "mcu: %s: %s", path, strerror(errno));
    return -1;
  }
  fseek(in, 0, SEEK_END);
  long size = ftell(in);
  fseek(in, 0, SEEK_SET);
  *resent = 0;
  size_t vlen = strlen(version);
  mcu_frame f = {.type = MCU_T_START, .len = (uint16_t)(8 + vlen)};
  mcu_put32(f.payload, (uint32_t)size);
  mcu_put32(f.payload + 4, crc);
  memcpy(f.payload + 8, version, vlen);
  int rc = reliable(l, &f, tries, resent, "start", progress, ctx, 0, (uint32_t)size, err, errlen);
  uint32_t off = 0;
  while (rc == 0 && off < (uint32_t)size) {
    size_t n = fread(f.payload + 4, 1, MCU_CHUNK, in);
    if (n == 0) {
      errmsg(err, errlen, "mcu: %s: short read at %u", path, off);
      rc = -1;
      break;
    }
    f.type = MCU_T_DATA;
    f.len = (uint16_t)(n + 4);
    mcu_put32(f.payload, off);
    char what[48];
    snprintf(what, sizeof what, "data at %u", off);
    rc = reliable(l, &f, tries, resent, what, progress, ctx, off, (uint32_t)size, err, errlen);
    off += (uint32_t)n;
  }
  fclose(in);
  if (rc != 0) return rc;
  f.type = MCU_T_END;
  f.len = 0;
  return reliable(l, &f, tries, resent, "end", progress, ctx, off, (uint32_t)size, err, errlen);
}

void mcu_link_close(mcu_link *l) {
  if (!l) return;
  if (l->pid > 0) {
    kill(l->pid, SIGKILL);
    while (waitpid(l->pid, NULL, 0) < 0 && errno == EINTR) {
    }
  }
  close(l->fd);
  free(l);
}
