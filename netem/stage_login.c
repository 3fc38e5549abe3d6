/* stage_login: holds a connection's MQTT CONNECT until someone decides on the login
 * (netem_proxy_login), so that a platform's policy, which netem knows nothing of, can
 * accept the device's credentials or refuse them with the CONNACK the platform would send.
 *
 * While held, the CONNECT and every packet the client sends after it are kept aside (a
 * client may send before its CONNACK; libmosquitto does not). Accepted: they go on, in
 * order, through the position stages (not through the MQTT faults: they were framed
 * already). Refused: the client gets a CONNACK with the refusal, then FIN; the upstream
 * never sees the CONNECT. Nobody decides within login_timeout_ms: refused (not authorized),
 * and the event says why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netem_int.h"

#define HOLD_MAX (256u * 1024u) /* bytes a client may send before its CONNACK */

struct held {
  struct held *next;
  struct chunk *ch;
  uint64_t off;
};

struct login_hold {
  uv_timer_t timer;
  struct conn *c;
  int level;
  struct held *head, *tail;
  size_t bytes;
};

/* An MQTT string (2-byte length, bytes) at *p; 0, or -1 if it does not fit before end. */
static int str_at(const uint8_t **p, const uint8_t *end, const char **s, size_t *n) {
  if (end - *p < 2) return -1;
  size_t len = (size_t)(*p)[0] << 8 | (*p)[1];
  if ((size_t)(end - *p - 2) < len) return -1;
  *s = (const char *)*p + 2;
  *n = len;
  *p += 2 + len;
  return 0;
}

/* Skips v5 properties (a variable byte length, then that many bytes). */
static int skip_props(const uint8_t **p, const uint8_t *end) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    if (*p >= end) return -1;
    uint8_t b = *(*p)++;
    v |= (uint32_t)(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      if ((uint32_t)(end - *p) < v) return -1;
      *p += v;
      return 0;
    }
  }
  return -1;
}

struct login_fields {
  const char *client_id, *username, *password;
  size_t client_id_len, username_len, password_len;
};

/* The CONNECT's client id, user name and password. Returns NULL or what is wrong. */
static const char *parse_connect(const struct mqtt_packet *pkt, struct login_fields *o) {
  const uint8_t *p = pkt->data + pkt->hdr_len, *end = pkt->data + pkt->len;
  const char *s;
  size_t n;
  memset(o, 0, sizeof *o);
  if (str_at(&p, end, &s, &n) || end - p < 4) return "CONNECT too short for its variable header";
  uint8_t flags = p[1];
  p += 4; /* level, flags, keep alive */
  if (pkt->protocol_level >= 5 && skip_props(&p, end)) return "CONNECT properties beyond the packet";
  if (str_at(&p, end, &o->client_id, &o->client_id_len)) return "CONNECT client id beyond the packet";
  if (flags & 0x04) { /* a will: (v5 properties), topic, payload */
    if (pkt->protocol_level >= 5 && skip_props(&p, end)) return "CONNECT will properties beyond the packet";
    if (str_at(&p, end, &s, &n) || str_at(&p, end, &s, &n)) return "CONNECT will beyond the packet";
  }
  if ((flags & 0x80) && str_at(&p, end, &o->username, &o->username_len)) return "CONNECT user name beyond the packet";
  if ((flags & 0x40) && str_at(&p, end, &o->password, &o->password_len)) return "CONNECT password beyond the packet";
  return NULL;
}

int netem_login_code(enum netem_login verdict, int level) {
  if (verdict == NETEM_LOGIN_ACCEPT) return 0;
  int bad = verdict == NETEM_LOGIN_BAD_CREDENTIALS;
  return level >= 5 ? (bad ? 0x86 : 0x87) : (bad ? 4 : 5);
}

static void hold_closed(uv_handle_t *h) {
  struct login_hold *lh = h->data;
  struct conn *c = lh->c;
  while (lh->head) {
    struct held *x = lh->head;
    lh->head = x->next;
    chunk_unref(x->ch);
    free(x);
  }
  free(lh);
  conn__unref(c);
}

/* The hold ends (decided, timed out, connection closed): its timer closes, it is freed. */
static struct login_hold *hold_end(struct conn *c) {
  struct login_hold *lh = c->login;
  c->login = NULL;
  c->login_done = 1;
  if (lh) uv_close((uv_handle_t *)&lh->timer, hold_closed);
  return lh;
}

static void done_event(struct conn *c, const char *action, int code, int level, const char *why) {
  struct netem_event ev;
  proxy__event_init(&ev, NETEM_EV_MQTT_LOGIN_DONE, &c->up);
  ev.action = action;
  ev.status = code;
  ev.protocol_level = level;
  ev.detail = why;
  proxy__emit(c->p, &ev);
}

static void accept_login(struct conn *c, struct login_hold *lh, const char *why) {
  done_event(c, "accept", 0, lh->level, why);
  for (struct held *x = lh->head; x && !c->closing && !c->up.cut && !c->cutting; x = x->next) {
    struct span_meta m = {x->off, 0, 0, 0, -1};
    pipe__bytes(&c->up, x->ch, x->ch->data, x->ch->size, m);
  }
  if (!c->closing) pipe__pump(&c->up);
}

static void refuse_login(struct conn *c, struct login_hold *lh, int code, const char *why) {
  done_event(c, "refuse", code, lh->level, why);
  struct dir *d = &c->down;
  size_t n = lh->level >= 5 ? 5 : 4; /* v5: ack flags, reason code, no properties */
  struct chunk *ch = chunk_new(n);
  struct qent *e = calloc(1, sizeof *e);
  if (!ch || !e) {
    chunk_unref(ch);
    free(e);
    conn__close(c, 1, "out of memory");
    return;
  }
  const uint8_t connack[5] = {MQTT_CONNACK << 4, (uint8_t)(n - 2), 0, (uint8_t)code, 0};
  memcpy(ch->data, connack, n);
  struct span_meta m = {d->read_off, 0, 0, 0, -1};
  pipe__bytes(d, ch, ch->data, n, m);
  chunk_unref(ch);
  if (c->closing || c->cutting || d->cut) {
    free(e);
    return;
  }
  e->kind = Q_CUT; /* fault_id 0: the close of a refused login, not a fault */
  d->cut = 1;
  conn__read_stop(d);
  conn__read_stop(&c->up);
  pipe__push_marker(d, e);
  pipe__pump(d);
}

static void hold_timeout(uv_timer_t *t) {
  struct login_hold *lh = t->data;
  struct conn *c = lh->c;
  if (c->closing || c->login != lh) return;
  char why[96];
  snprintf(why, sizeof why, "no login decision within %llu ms", (unsigned long long)c->p->login_timeout_ms);
  hold_end(c);
  refuse_login(c, lh, netem_login_code(NETEM_LOGIN_NOT_AUTHORIZED, lh->level), why);
}

static int keep(struct conn *c, struct login_hold *lh, const struct mqtt_packet *pkt) {
  struct held *x = calloc(1, sizeof *x);
  struct chunk *ch = chunk_new(pkt->len);
  int over = lh->bytes + pkt->len > HOLD_MAX;
  if (!x || !ch || over) {
    free(x);
    chunk_unref(ch);
    conn__close(c, 1, over ? "sent more than 256 KiB before its CONNACK (login held)" : "out of memory");
    return -1;
  }
  memcpy(ch->data, pkt->data, pkt->len);
  x->ch = ch;
  x->off = pkt->off;
  lh->bytes += pkt->len;
  if (lh->tail) lh->tail->next = x;
  else lh->head = x;
  lh->tail = x;
  return 0;
}

static void login_event(struct dir *d, const struct login_fields *f, int level) {
  char cid[512];
  snprintf(cid, sizeof cid, "%.*s", (int)f->client_id_len, f->client_id);
  struct netem_event ev;
  proxy__event_init(&ev, NETEM_EV_MQTT_LOGIN, d);
  ev.offset = 0;
  ev.client_id = cid;
  ev.username = f->username;
  ev.username_len = f->username_len;
  ev.password = f->password;
  ev.password_len = f->password_len;
  ev.protocol_level = level;
  proxy__emit(d->c->p, &ev);
}

int stage_login_take(struct dir *d, const struct mqtt_packet *pkt) {
  struct conn *c = d->c;
  if (c->login) {
    (void)keep(c, c->login, pkt);
    return 1;
  }
  if (pkt->type != MQTT_CONNECT) { /* not a login: the broker will refuse it itself */
    c->login_done = 1;
    return 0;
  }
  struct login_fields f;
  const char *bad = parse_connect(pkt, &f);
  if (bad) {
    conn__close(c, 1, bad);
    return 1;
  }
  struct login_hold *lh = calloc(1, sizeof *lh);
  if (!lh) {
    conn__close(c, 1, "out of memory");
    return 1;
  }
  lh->c = c;
  lh->level = pkt->protocol_level;
  uv_timer_init(c->p->loop, &lh->timer);
  lh->timer.data = lh;
  conn__ref(c);
  c->login = lh;
  if (keep(c, lh, pkt) != 0) return 1; /* closed: stage_login_conn_closed freed it */
  proxy__timer_start_after(&lh->timer, hold_timeout, c->p->login_timeout_ms);
  login_event(d, &f, lh->level);
  return 1;
}

void stage_login_conn_closed(struct conn *c) { (void)hold_end(c); }

int netem_proxy_login(netem_proxy *p, uint64_t conn_id, enum netem_login verdict, const char *why) {
  if (!p || verdict < NETEM_LOGIN_ACCEPT || verdict > NETEM_LOGIN_NOT_AUTHORIZED) return UV_EINVAL;
  struct conn *c = p->conns;
  while (c && c->id != conn_id) c = c->next;
  if (!c || !c->login || c->closing || c->cutting) return UV_ENOENT;
  struct login_hold *lh = hold_end(c); /* freed from a later loop turn: its chunks stay valid */
  if (verdict == NETEM_LOGIN_ACCEPT) accept_login(c, lh, why);
  else refuse_login(c, lh, netem_login_code(verdict, lh->level), why);
  return 0;
}

int netem_proxy_login_refuse_code(netem_proxy *p, uint64_t conn_id, int code, const char *why) {
  if (!p || code < 1 || code > 255) return UV_EINVAL;
  struct conn *c = p->conns;
  while (c && c->id != conn_id) c = c->next;
  if (!c || !c->login || c->closing || c->cutting) return UV_ENOENT;
  struct login_hold *lh = hold_end(c);
  refuse_login(c, lh, code, why);
  return 0;
}
