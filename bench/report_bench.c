/* report_bench: how the reports scale to a nightly run. Builds a synthetic run
 * document of N cases (default 1000; 5 % failing) whose events look like a
 * cut-and-resume download (about 100 events: console lines, progress reports,
 * two HTTP connections, a cut, power on/off), or are read from a real
 * events.json (--events FILE), writes report.html, junit.xml and report.json,
 * and prints their sizes and write times; then, when chromium is installed,
 * how long the page takes to open in headless chromium (the page's own
 * figures: script done, load event) and the wall time of the whole browser.
 *
 *   report_bench [-n N] [--events FILE] [--keep DIR]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static cJSON *ev(cJSON *arr, double t, const char *kind) {
  cJSON *e = cJSON_CreateObject();
  cJSON_AddNumberToObject(e, "t", t);
  cJSON_AddStringToObject(e, "kind", kind);
  cJSON_AddItemToArray(arr, e);
  return e;
}

/* About 100 events shaped like qcloud/03_resume_after_cut's. */
static cJSON *synthetic_events(int k) {
  cJSON *a = cJSON_CreateArray();
  char buf[256];
  cJSON *e = ev(a, 0.016, "power");
  cJSON_AddStringToObject(e, "device", "emu-qcloud");
  cJSON_AddStringToObject(e, "state", "on");
  for (int i = 0; i < 58; i++) {
    e = ev(a, 0.05 + i * 0.012, "console");
    cJSON_AddStringToObject(e, "device", "emu-qcloud");
    snprintf(buf, sizeof buf, "[otadev] download: %d bytes at offset %d, case %d", 4096 * (i + 1), 4096 * i, k);
    cJSON_AddStringToObject(e, "line", buf);
  }
  const char *stream = "emu-qcloud/http";
  for (int c = 1; c <= 2; c++) {
    e = ev(a, c == 1 ? 0.166 : 0.370, "http.request");
    cJSON_AddStringToObject(e, "stream", stream);
    cJSON_AddNumberToObject(e, "conn", c);
    cJSON_AddStringToObject(e, "method", "GET");
    snprintf(buf, sizeof buf, "/fw/c%d-1-otadev-2.0.0-262144-0-234b2a65.bin", k);
    cJSON_AddStringToObject(e, "path", buf);
    if (c == 2) cJSON_AddStringToObject(e, "range", "bytes=87381-");
    for (int p = 0; p < 3; p++) {
      e = ev(a, (c == 1 ? 0.167 : 0.371) + p * 0.001, "http.progress");
      cJSON_AddStringToObject(e, "stream", stream);
      cJSON_AddNumberToObject(e, "bytes", c == 1 ? 32768.0 * (p + 1) : 87381 + 58254.0 * (p + 1));
      cJSON_AddNumberToObject(e, "offset", 0);
    }
    if (c == 1) {
      e = ev(a, 0.168, "fault");
      cJSON_AddStringToObject(e, "stream", stream);
      cJSON_AddNumberToObject(e, "conn", 1);
      cJSON_AddStringToObject(e, "fault", "cut");
      cJSON_AddStringToObject(e, "action", "fin");
      cJSON_AddNumberToObject(e, "body_offset", 87381);
    }
    e = ev(a, c == 1 ? 0.169 : 0.375, "net.close");
    cJSON_AddStringToObject(e, "stream", stream);
    cJSON_AddNumberToObject(e, "conn", c);
  }
  for (int i = 0; i < 15; i++) {
    e = ev(a, 0.17 + i * 0.03, "mqtt.in");
    cJSON_AddStringToObject(e, "topic", "$ota/report/OTAHILQC01/emu-qcloud");
    snprintf(buf, sizeof buf,
             "{\"type\":\"report_progress\",\"report\":{\"progress\":{\"state\":\"%s\",\"percent\":\"%d\","
             "\"result_code\":\"0\",\"result_msg\":\"\"},\"version\":\"2.0.0\"}}",
             i < 12 ? "downloading" : i < 14 ? "burning" : "done", i < 12 ? i * 9 : 100);
    cJSON_AddStringToObject(e, "payload", buf);
  }
  e = ev(a, 0.85, "power");
  cJSON_AddStringToObject(e, "state", "off");
  return a;
}

static cJSON *read_json(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *buf = malloc((size_t)n + 1);
  size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
  fclose(f);
  cJSON *j = buf ? cJSON_ParseWithLength(buf, got) : NULL;
  free(buf);
  return j;
}

static cJSON *build_run(int n, const cJSON *template_events) {
  cJSON *run = cJSON_CreateObject();
  cJSON_AddStringToObject(run, "tool", "otahil");
  cJSON_AddNumberToObject(run, "seed", 42);
  cJSON_AddStringToObject(run, "started", "2026-12-07T01:00:00.000Z");
  cJSON *scs = cJSON_AddArrayToObject(run, "scenarios");
  for (int i = 0; i < n; i++) {
    cJSON *s = cJSON_CreateObject();
    char buf[128];
    int dev = i % 4, bad = i % 20 == 7;
    snprintf(buf, sizeof buf, "qcloud/%04d_resume_after_cut@emu-%d", i, dev);
    cJSON_AddStringToObject(s, "id", buf);
    cJSON_AddStringToObject(s, "suite", "qcloud");
    snprintf(buf, sizeof buf, "emu-%d", dev);
    cJSON_AddStringToObject(s, "device", buf);
    cJSON_AddStringToObject(s, "file", "scenarios/qcloud/03_resume_after_cut.lua");
    cJSON_AddStringToObject(s, "outcome", bad ? "FAIL" : "PASS");
    cJSON_AddStringToObject(s, "message", bad ? "scenarios/qcloud/03_resume_after_cut.lua:42: expected Range 87381, saw 0" : "");
    cJSON_AddNumberToObject(s, "duration", 0.85);
    int sec = (i / 4) * 9 / 10; /* four devices side by side, ~0.9 s per case */
    snprintf(buf, sizeof buf, "2026-12-07T%02d:%02d:%02d.%03dZ", 1 + sec / 3600, sec / 60 % 60, sec % 60, (i * 37) % 1000);
    cJSON_AddStringToObject(s, "started", buf);
    snprintf(buf, sizeof buf, "out/logs/qcloud/%04d.log", i);
    cJSON_AddStringToObject(s, "log", buf);
    cJSON_AddItemToObject(s, "events", template_events ? cJSON_Duplicate(template_events, 1) : synthetic_events(i));
    cJSON_AddItemToArray(scs, s);
  }
  return run;
}

static long long file_size(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

static int write_one(const char *what, int (*fn)(const cJSON *, const char *, char *, size_t), const cJSON *run,
                     const char *dir) {
  char path[512], err[512];
  snprintf(path, sizeof path, "%s/%s", dir, what);
  double t = now();
  if (fn(run, path, err, sizeof err) != 0) {
    fprintf(stderr, "report_bench: %s\n", err);
    return -1;
  }
  printf("%-12s %9.1f KiB  written in %6.1f ms\n", what, file_size(path) / 1024.0, (now() - t) * 1000);
  return 0;
}

/* The page's own figures, from the DOM chromium dumps. */
static void browse(const char *dir) {
  const char *chromium = access("/usr/bin/chromium", X_OK) == 0 ? "/usr/bin/chromium" : NULL;
  if (!chromium) {
    printf("chromium: not installed, no load time (scripts/install-deps installs it)\n");
    return;
  }
  char cmd[2048], out[600];
  snprintf(out, sizeof out, "%s/dom.html", dir);
  snprintf(cmd, sizeof cmd,
           "timeout 120 %s --headless --no-sandbox --disable-gpu --user-data-dir='%s/chrome' "
           "--dump-dom 'file://%s/report.html' > '%s' 2>/dev/null",
           chromium, dir, dir, out);
  double t = now();
  int rc = system(cmd);
  double wall = now() - t;
  FILE *f = fopen(out, "r");
  char head[4096] = "";
  size_t n = f ? fread(head, 1, sizeof head - 1, f) : 0;
  if (f) fclose(f);
  head[n] = '\0';
  const char *r = strstr(head, "data-ready-ms=\""), *l = strstr(head, "data-load-ms=\"");
  printf("chromium:    script done %d ms, load event %d ms after navigation; browser wall %.2f s%s\n",
         r ? (int)strtol(r + 15, NULL, 10) : -1, l ? (int)strtol(l + 14, NULL, 10) : -1, wall, rc ? " (chromium failed)" : "");
}

int main(int argc, char **argv) {
  int n = 1000;
  const char *events = NULL, *keep = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-n") && i + 1 < argc) {
      char *end;
      long v = strtol(argv[++i], &end, 10);
      if (*end || v < 1 || v > 1000000) {
        fprintf(stderr, "report_bench: -n '%s': a number of cases, 1..1000000\n", argv[i]);
        return 2;
      }
      n = (int)v;
    } else if (!strcmp(argv[i], "--events") && i + 1 < argc) events = argv[++i];
    else if (!strcmp(argv[i], "--keep") && i + 1 < argc) keep = argv[++i];
    else {
      fprintf(stderr, "usage: report_bench [-n N] [--events FILE] [--keep DIR]\n");
      return 2;
    }
  }
  cJSON *tmpl = NULL;
  if (events && !cJSON_IsArray(tmpl = read_json(events))) {
    fprintf(stderr, "report_bench: %s: not a JSON array of events\n", events);
    return 2;
  }
  char dir[512];
  if (keep) {
    snprintf(dir, sizeof dir, "%s", keep);
    mkdir(dir, 0755);
  } else {
    snprintf(dir, sizeof dir, "/tmp/report-bench-XXXXXX");
    if (!mkdtemp(dir)) return 3;
  }
  cJSON *run = build_run(n, tmpl);
  cJSON_Delete(tmpl);
  printf("%d cases (%d failing), events %s\n", n, (n + 12) / 20, events ? events : "synthetic (~100 per case)");
  int rc = write_one("report.html", report_write_html, run, dir) || write_one("junit.xml", report_write_junit, run, dir) ||
           write_one("report.json", report_write_json, run, dir);
  cJSON_Delete(run);
  if (!rc) browse(dir);
  if (!keep) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "report_bench: could not remove %s\n", dir);
  } else {
    printf("kept in %s\n", dir);
  }
  return rc ? 3 : 0;
}
