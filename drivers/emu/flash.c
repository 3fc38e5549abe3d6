#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errmsg.h"
#include "flash.h"
#include "fsutil.h"

/* The factory image is small: only its header and CRC matter. */
#define FACTORY_IMAGE_SIZE 4096u
#define META_MAX 16384u

struct flash {
  char dir[4096];
  char meta_path[4200];
  flash_meta m;
  char crash_point[32];
};

static void copy_str(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (n >= cap) n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = 0;
}

static void crash_now(void *arg) {
  (void)arg;
  /* A power cut: no cleanup, no flushing. */
  raise(SIGKILL);
}

static void maybe_crash(const flash *f, const char *point) {
  if (strcmp(f->crash_point, point) == 0) crash_now(NULL);
}

static char *slot_version(flash_meta *m, char slot) {
  return slot == 'b' ? m->version_b : m->version_a;
}

static int save(flash *f, char *err, size_t errlen) {
  cJSON *root = cJSON_CreateObject();
  cJSON *slots = cJSON_AddObjectToObject(root, "slots");
  char a[2] = {f->m.active, 0}, p[2] = {f->m.pending, 0};
  cJSON_AddStringToObject(root, "active", a);
  cJSON_AddStringToObject(cJSON_AddObjectToObject(slots, "a"), "version", f->m.version_a);
  cJSON_AddStringToObject(cJSON_AddObjectToObject(slots, "b"), "version", f->m.version_b);
  if (f->m.pending)
    cJSON_AddStringToObject(root, "pending", p);
  else
    cJSON_AddNullToObject(root, "pending");
  cJSON_AddNumberToObject(root, "attempts", f->m.attempts);
  if (f->m.has_failure) {
    cJSON *lf = cJSON_AddObjectToObject(root, "last_failure");
    cJSON_AddStringToObject(lf, "version", f->m.failure_version);
    cJSON_AddStringToObject(lf, "msg", f->m.failure_msg);
    cJSON_AddBoolToObject(lf, "reported", f->m.failure_reported);
  } else {
    cJSON_AddNullToObject(root, "last_failure");
  }
  char *text = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!text) {
    errmsg(err, errlen, "%s: out of memory", f->meta_path);
    return -1;
  }
  int hook = strcmp(f->crash_point, "meta-rename") == 0;
  int rc = fs_write_atomic(f->meta_path, text, strlen(text), hook ? crash_now : NULL, NULL, err,
                           errlen);
  free(text);
  return rc;
}

static int get_slot_name(const cJSON *v, char *out) {
  if (cJSON_IsNull(v) || !v) {
    *out = 0;
    return 0;
  }
  if (!cJSON_IsString(v) || (strcmp(v->valuestring, "a") != 0 && strcmp(v->valuestring, "b") != 0))
    return -1;
  *out = v->valuestring[0];
  return 0;
}

static int get_version(const cJSON *slots, const char *name, char *out) {
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(slots, name);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, "version");
  if (!cJSON_IsString(v) || strlen(v->valuestring) > FLASH_VERSION_MAX) return -1;
  copy_str(out, FLASH_VERSION_MAX + 1, v->valuestring);
  return 0;
}

/* Returns 0 (loaded), 1 (no meta yet) or -1 (unreadable). */
static int load(flash *f, char *err, size_t errlen) {
  int missing = 0;
  size_t len = 0;
  char *text = fs_read_all(f->meta_path, META_MAX, &len, &missing, err, errlen);
  if (!text) return missing ? 1 : -1;
  cJSON *root = cJSON_ParseWithLength(text, len);
  free(text);
  flash_meta m;
  memset(&m, 0, sizeof m);
  const cJSON *att = cJSON_GetObjectItemCaseSensitive(root, "attempts");
  const cJSON *slots = cJSON_GetObjectItemCaseSensitive(root, "slots");
  const cJSON *lf = cJSON_GetObjectItemCaseSensitive(root, "last_failure");
  int bad = !cJSON_IsObject(root) ||
            get_slot_name(cJSON_GetObjectItemCaseSensitive(root, "active"), &m.active) != 0 ||
            !m.active ||
            get_slot_name(cJSON_GetObjectItemCaseSensitive(root, "pending"), &m.pending) != 0 ||
            !cJSON_IsNumber(att) || att->valuedouble < 0 || att->valuedouble > 1000 ||
            get_version(slots, "a", m.version_a) != 0 || get_version(slots, "b", m.version_b) != 0;
  if (!bad && cJSON_IsObject(lf)) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(lf, "version");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(lf, "msg");
    const cJSON *rep = cJSON_GetObjectItemCaseSensitive(lf, "reported");
    if (!cJSON_IsString(v) || !cJSON_IsString(msg) || !cJSON_IsBool(rep)) {
      bad = 1;
    } else {
      m.has_failure = 1;
      m.failure_reported = cJSON_IsTrue(rep);
      copy_str(m.failure_version, sizeof m.failure_version, v->valuestring);
      copy_str(m.failure_msg, sizeof m.failure_msg, msg->valuestring);
    }
  }
  if (!bad) m.attempts = (int)att->valuedouble;
  cJSON_Delete(root);
  if (bad) {
    errmsg(err, errlen, "%s: not a valid flash meta", f->meta_path);
    return -1;
  }
  f->m = m;
  return 0;
}

flash *flash_open(const char *dir, const char *factory_version, char *err, size_t errlen) {
  if (!factory_version || !*factory_version || strlen(factory_version) > FLASH_VERSION_MAX) {
    errmsg(err, errlen, "flash: factory version must be 1..%u bytes", FLASH_VERSION_MAX);
    return NULL;
  }
  flash *f = calloc(1, sizeof *f);
  if (!f) {
    errmsg(err, errlen, "flash: out of memory");
    return NULL;
  }
  if (strlen(dir) >= sizeof f->dir - 16) {
    errmsg(err, errlen, "flash: state directory path too long");
    free(f);
    return NULL;
  }
  copy_str(f->dir, sizeof f->dir, dir);
  fs_join(f->meta_path, sizeof f->meta_path, dir, "flash.json");
  if (fs_mkdir(dir, err, errlen) != 0) {
    free(f);
    return NULL;
  }
  int rc = load(f, err, errlen);
  if (rc < 0) {
    free(f);
    return NULL;
  }
  if (rc == 1) {
    /* Factory state: the image first, then the meta that points to it, so a
     * power cut in between just repeats this on the next start. */
    char path[4200];
    flash_slot_path(f, 'a', path, sizeof path);
    if (fwimage_build(path, factory_version, FACTORY_IMAGE_SIZE, 0, err, errlen) != 0) {
      free(f);
      return NULL;
    }
    memset(&f->m, 0, sizeof f->m);
    f->m.active = 'a';
    copy_str(f->m.version_a, sizeof f->m.version_a, factory_version);
    if (save(f, err, errlen) != 0) {
      free(f);
      return NULL;
    }
  }
  return f;
}

int flash_boot(flash *f, int trust_fail_boot, flash_boot_info *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  int rc = load(f, err, errlen);
  if (rc == 1) errmsg(err, errlen, "%s: flash meta disappeared", f->meta_path);
  if (rc != 0) return -1;
  flash_meta *m = &f->m;
  if (m->pending && m->pending == m->active) {
    /* Cannot come from our own writes; treat it as nothing pending. */
    m->pending = 0;
    m->attempts = 0;
    if (save(f, err, errlen) != 0) return -1;
  }
  if (m->pending && m->attempts >= 1) {
    char pend = m->pending;
    copy_str(out->failed_version, sizeof out->failed_version, slot_version(m, pend));
    errmsg(out->msg, sizeof out->msg,
             "rollback: image %s in slot %c failed to boot, back to slot %c (%s)",
             out->failed_version, pend, m->active, slot_version(m, m->active));
    m->pending = 0;
    m->attempts = 0;
    m->has_failure = 1;
    m->failure_reported = 0;
    copy_str(m->failure_version, sizeof m->failure_version, out->failed_version);
    copy_str(m->failure_msg, sizeof m->failure_msg, out->msg);
    if (save(f, err, errlen) != 0) return -1;
    out->rolled_back = 1;
  } else if (m->pending) {
    char pend = m->pending;
    m->attempts++;
    if (save(f, err, errlen) != 0) return -1;
    maybe_crash(f, "boot-attempt");
    char path[4200], why[512];
    fwimage_info info;
    flash_slot_path(f, pend, path, sizeof path);
    copy_str(out->failed_version, sizeof out->failed_version, slot_version(m, pend));
    if (fwimage_check(path, &info, why, sizeof why) != 0) {
      errmsg(out->msg, sizeof out->msg, "image %s failed to boot: %s", out->failed_version, why);
      return FLASH_BOOT_PANIC;
    }
    if (strcmp(info.version, slot_version(m, pend)) != 0) {
      errmsg(out->msg, sizeof out->msg, "image %s failed to boot: slot %c holds version %s",
               out->failed_version, pend, info.version);
      return FLASH_BOOT_PANIC;
    }
    if ((info.flags & FWIMAGE_FAIL_BOOT) && !trust_fail_boot) {
      errmsg(out->msg, sizeof out->msg, "image %s failed to boot (flag fail-boot)",
               out->failed_version);
      return FLASH_BOOT_PANIC;
    }
    out->failed_version[0] = 0;
    m->active = pend;
    m->pending = 0;
    m->attempts = 0;
    if (save(f, err, errlen) != 0) return -1;
    out->upgraded = 1;
  }
  out->slot = m->active;
  copy_str(out->version, sizeof out->version, slot_version(m, m->active));
  return FLASH_BOOT_OK;
}

char flash_inactive_slot(const flash *f) { return f->m.active == 'a' ? 'b' : 'a'; }

const char *flash_active_version(const flash *f) {
  return f->m.active == 'b' ? f->m.version_b : f->m.version_a;
}

int flash_slot_path(const flash *f, char slot, char *buf, size_t len) {
  char name[16];
  snprintf(name, sizeof name, "slot_%c.bin", slot == 'b' ? 'b' : 'a');
  return fs_join(buf, len, f->dir, name);
}

int flash_set_pending(flash *f, char slot, const char *version, char *err, size_t errlen) {
  if ((slot != 'a' && slot != 'b') || slot == f->m.active || !version ||
      strlen(version) > FLASH_VERSION_MAX) {
    errmsg(err, errlen, "flash: cannot make slot %c pending", slot);
    return -1;
  }
  flash_meta old = f->m;
  copy_str(slot_version(&f->m, slot), FLASH_VERSION_MAX + 1, version);
  f->m.pending = slot;
  f->m.attempts = 0;
  if (save(f, err, errlen) != 0) {
    f->m = old;
    return -1;
  }
  return 0;
}

int flash_failure_reported(flash *f, char *err, size_t errlen) {
  if (!f->m.has_failure || f->m.failure_reported) return 0;
  f->m.failure_reported = 1;
  if (save(f, err, errlen) != 0) {
    f->m.failure_reported = 0;
    return -1;
  }
  return 0;
}

void flash_get_meta(const flash *f, flash_meta *out) { *out = f->m; }

void flash_set_crash_point(flash *f, const char *point) {
  f->crash_point[0] = 0;
  if (point) copy_str(f->crash_point, sizeof f->crash_point, point);
}

void flash_close(flash *f) { free(f); }
