#include <curl/curl.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bugs.h"
#include "console.h"
#include "device.h"
#include "dialect.h"
#include "engine.h"
#include "flash.h"
#include "fsutil.h"
#include "login.h"
#include "mqtt_link.h"

#define KEEPALIVE_S 10
#define POLL_MS 200
#define PREVIEW_MAX 300

/* A signal handler can only reach a global; this flag is the one exception. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

typedef struct device {
  const otadev_config *cfg;
  const dialect_ops *ops;
  dialect *d;
  mqtt_link *link;
  flash *f;
  engine *e;
  int connected;
  int upgraded_reboot; /* this process rebooted after an upgrade */
  struct timespec last_version_report;
} device;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report_version(device *dev) {
  dev->ops->report_version(dev->d, flash_active_version(dev->f));
  clock_gettime(CLOCK_MONOTONIC, &dev->last_version_report);
}

static void on_connected(device *dev) {
  console_log("mqtt connected");
  dev->connected = 1;
  dev->ops->on_connect(dev->d);
  /* The defect: firmware that forgets to announce itself after an upgrade. */
  if (!(dev->upgraded_reboot && (dev->cfg->bugs & BUG_NO_VERSION_AFTER_REBOOT))) report_version(dev);
  flash_meta m;
  flash_get_meta(dev->f, &m);
  if (m.has_failure && !m.failure_reported) {
    engine_report r = {ENGINE_STEP_FAIL, 0, ENGINE_FAIL_UPDATE, m.failure_msg, m.failure_version, NULL};
    dev->ops->report_progress(dev->d, &r);
    char err[256];
    if (flash_failure_reported(dev->f, err, sizeof err) != 0) console_log("flash: %s", err);
  }
}

static void preview(const char *p, size_t len, char *out, size_t cap) {
  size_t n = len < cap - 1 ? len : cap - 1;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    out[i] = (c < 0x20 || c >= 0x7f) ? '.' : (char)c;
  }
  out[n] = 0;
}

/* Handles one event. Returns 1 when `req` holds an upgrade to start (only
 * when not `busy`). */
static int handle_event(device *dev, evq_event *ev, int busy, engine_request *req) {
  switch (ev->type) {
  case EVQ_CONNECTED:
    on_connected(dev);
    return 0;
  case EVQ_DISCONNECTED:
    if (dev->connected || ev->rc != 0)
      console_log("mqtt disconnected (%s)", ev->rc == 0 ? "requested" : mosquitto_strerror(ev->rc));
    dev->connected = 0;
    return 0;
  case EVQ_MESSAGE:
    break;
  }
  char shown[PREVIEW_MAX + 1], why[256];
  if (ev->payload)
    preview(ev->payload, ev->len, shown, sizeof shown);
  else
    snprintf(shown, sizeof shown, "(not kept)");
  console_log("mqtt message %s (%zu bytes) %s%s", ev->topic, ev->len, shown,
              ev->len > PREVIEW_MAX ? "..." : "");
  engine_request r;
  dialect_msg kind =
      dev->ops->on_message(dev->d, ev->topic, ev->payload, ev->len, ev->too_large, &r, why, sizeof why);
  switch (kind) {
  case DIALECT_MSG_IGNORED:
    console_log("ignored message: %s", why);
    return 0;
  case DIALECT_MSG_MALFORMED:
    if (dev->cfg->bugs & BUG_CRASH_ON_GARBAGE) {
      /* The defect: a parser that trusts its input. */
      console_log("fatal: cannot parse message: %s", why);
      abort();
    }
    console_log("ignored malformed message: %s", why);
    return 0;
  case DIALECT_MSG_UPDATE:
    if (busy) {
      console_log("ignored update version=%s: an upgrade is in progress", r.version);
      return 0;
    }
    *req = r;
    return 1;
  }
  return 0;
}

/* Engine hooks: the engine runs on this thread, so it lends us time here. */
static int poll_hook(void *ctx) {
  device *dev = ctx;
  evq_event ev;
  engine_request ignored;
  while (mqtt_link_next(dev->link, &ev, 0)) {
    handle_event(dev, &ev, 1, &ignored);
    evqueue_event_free(&ev);
  }
  return stop_requested;
}

static void report_hook(void *ctx, const engine_report *r) {
  device *dev = ctx;
  dev->ops->report_progress(dev->d, r);
}

/* Runs the bootloader until an image is up. Returns 0 or -1 (flash error). */
static int boot(device *dev) {
  flash_boot_info info;
  char err[512];
  for (int tries = 0; tries < 4; tries++) {
    int rc = flash_boot(dev->f, (dev->cfg->bugs & BUG_NO_ROLLBACK) != 0, &info, err, sizeof err);
    if (rc < 0) {
      console_log("boot failed: %s", err);
      fprintf(stderr, "otadev: boot failed: %s\n", err);
      return -1;
    }
    if (rc == FLASH_BOOT_PANIC) {
      console_log("panic: %s", info.msg);
      console_log("rebooting");
      continue;
    }
    if (info.rolled_back) console_log("%s", info.msg);
    if (info.upgraded) console_log("new image booted, slot %c is now active", info.slot);
    console_log("boot slot=%c version=%s", info.slot, info.version);
    return 0;
  }
  console_log("boot failed: the bootloader keeps panicking");
  fprintf(stderr, "otadev: boot failed: the bootloader keeps panicking\n");
  return -1;
}

static void wait_ms(long ms) {
  for (long left = ms; left > 0 && !stop_requested; left -= 50) fs_sleep_ms(left < 50 ? left : 50);
}

/* --secret: the login signed as the platform's SDK signs it, afresh before every CONNECT
 * (mqtt_link_opts.resign), so that a long run or a reconnect after the last signature
 * expired is still let in: Tencent's user name gets a new connid and expiry. Aliyun's
 * timestamp is in the client id, which a libmosquitto handle keeps for its life, so it
 * stays the one of the link's first signature (Aliyun checks it against no clock). */
typedef struct signer {
  const otadev_config *c;
  time_t first; /* when the link's first CONNECT was signed */
  login_creds creds;
} signer;

static int sign(signer *s, time_t now) {
  const otadev_config *c = s->c;
  char err[256];
  if (login_sign(c->dialect, c->product, c->device, c->secret, now, c->sign_lifetime,
                 (c->bugs & BUG_BAD_SIGNATURE) != 0, &s->creds, err, sizeof err) != 0) {
    console_log("%s", err);
    return -1;
  }
  console_log("mqtt login signed as %s", s->creds.username);
  return 0;
}

static int resign(void *ctx, const char **username, const char **password) {
  signer *s = ctx;
  if (sign(s, strcmp(s->c->dialect, "qcloud") == 0 ? time(NULL) : s->first) != 0) return -1;
  *username = s->creds.username;
  *password = s->creds.password;
  return 0;
}

/* Runs from connect to reboot or shutdown. Returns 1 to reboot, 0 to stop. */
static int online(device *dev) {
  const otadev_config *c = dev->cfg;
  dialect_config dc = {c->product, c->device, c};
  char cid[160], err[512];
  dev->ops->client_id(&dc, cid, sizeof cid);
  mqtt_link_opts lo = {c->host, c->port, cid, KEEPALIVE_S, 1u << 20, c->ca_file, (c->bugs & BUG_NO_CERT_VERIFY) != 0,
                       (c->bugs & BUG_NO_HOSTNAME_CHECK) != 0, NULL, NULL, NULL, NULL};
  signer sg = {c, time(NULL), {{0}, {0}, {0}}}; /* outlives the link: closed below */
  if (c->secret) {
    if (sign(&sg, sg.first) != 0) return 0;
    lo.client_id = sg.creds.client_id;
    lo.username = sg.creds.username;
    lo.password = sg.creds.password;
    lo.resign = resign;
    lo.resign_ctx = &sg;
  }
  dev->link = mqtt_link_open(&lo, err, sizeof err);
  if (!dev->link) {
    console_log("%s", err);
    return 0;
  }
  dev->d = dev->ops->create(&dc, dev->link, err, sizeof err);
  if (!dev->d) {
    console_log("%s", err);
    mqtt_link_close(dev->link);
    dev->link = NULL;
    return 0;
  }
  dev->connected = 0;
  int reboot = 0;
  engine_hooks hooks = {dev, report_hook, poll_hook};
  while (!stop_requested) {
    evq_event ev;
    engine_request req;
    if (mqtt_link_next(dev->link, &ev, POLL_MS)) {
      int start = handle_event(dev, &ev, 0, &req);
      evqueue_event_free(&ev);
      if (start) {
        int rc = engine_run(dev->e, &req, &hooks);
        if (rc == ENGINE_REBOOT) {
          reboot = 1;
          break;
        }
        if (rc == ENGINE_STOPPED) break;
        /* After a failure the platform re-pushes when our version differs
         * from its target, so say which version runs. */
        report_version(dev);
      }
    }
    if (c->report_interval > 0 && dev->connected) {
      double last = (double)dev->last_version_report.tv_sec +
                    (double)dev->last_version_report.tv_nsec / 1e9;
      if (now_s() - last >= (double)c->report_interval) report_version(dev);
    }
  }
  if (mqtt_link_flush(dev->link, 2000) != 0) console_log("mqtt: some reports were not acknowledged");
  console_log(reboot ? "rebooting" : "shutting down");
  dev->ops->destroy(dev->d);
  dev->d = NULL;
  mqtt_link_close(dev->link);
  dev->link = NULL;
  return reboot;
}

int device_run(const otadev_config *cfg) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  device dev;
  memset(&dev, 0, sizeof dev);
  dev.cfg = cfg;
  dev.ops = dialect_find(cfg->dialect);
  char err[512];
  if (!dev.ops) {
    fprintf(stderr, "otadev: unknown dialect %s\n", cfg->dialect);
    return 2;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
    fprintf(stderr, "otadev: curl_global_init failed\n");
    return 3;
  }
  mosquitto_lib_init();
  int code = 0;
  console_log("power on: dialect=%s product=%s device=%s state=%s", cfg->dialect, cfg->product,
              cfg->device, cfg->state);
  dev.f = flash_open(cfg->state, cfg->version, err, sizeof err);
  engine_config ec = {cfg->state, cfg->bugs, cfg->download_timeout, cfg->retries,
                      cfg->progress_step, cfg->burn_ms, cfg->ca_file};
  if (dev.f) dev.e = engine_new(&ec, dev.f, err, sizeof err);
  if (!dev.f || !dev.e) {
    console_log("flash: %s", err);
    fprintf(stderr, "otadev: %s\n", err);
    code = 3;
  }
  for (unsigned b = 1; cfg->bugs && b; b <<= 1)
    if (cfg->bugs & b) console_log("defect enabled: %s", bugs_name(b));
  while (code == 0 && !stop_requested) {
    if (boot(&dev) != 0) {
      code = 3;
      break;
    }
    engine_boot_cleanup(dev.e);
    wait_ms(cfg->boot_ms);
    if (stop_requested) break;
    if (!online(&dev)) break;
    dev.upgraded_reboot = 1;
  }
  if (code == 0) console_log("power off (graceful)");
  engine_free(dev.e);
  if (dev.f) flash_close(dev.f);
  mosquitto_lib_cleanup();
  curl_global_cleanup();
  return code;
}
