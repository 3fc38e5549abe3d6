/* stage_mqtt: acts on whole MQTT packets: drop, delay, duplicate or corrupt the payload
 * of PUBLISH packets whose topic matches a filter, or cut the connection after the Nth.
 * Other packets pass unchanged. A delayed packet is held aside (others overtake it) and
 * queued when its timer fires or its fault is removed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netem_int.h"

struct delayed {
  uv_timer_t timer;
  struct delayed *next;
  struct dir *d;
  uint32_t fault_id;
  struct chunk *ch;
  uint64_t off;
};

static void fault_event(struct dir *d, struct fault *f, const char *action, const struct mqtt_packet *pkt) {
  struct netem_event ev;
  proxy__event_init(&ev, NETEM_EV_FAULT, d);
  ev.fault_id = f->id;
  ev.fault = netem_fault_kind_name(f->f.kind);
  ev.action = action;
  ev.offset = pkt->off;
  ev.topic = pkt->topic;
  proxy__emit(d->c->p, &ev);
}

static void corrupt_payload(struct dir *d, struct fault *f, const struct mqtt_packet *pkt, uint8_t *data) {
  size_t plen = pkt->len - pkt->payload_off;
  uint64_t rng = proxy__rng_seed(d->c->p, f->id, f->fired);
  uint64_t pos[NETEM_MAX_OFFSETS];
  size_t n = 0;
  if (f->f.n_offsets) {
    for (size_t i = 0; i < f->f.n_offsets; i++)
      if (f->f.offsets[i] < plen) pos[n++] = f->f.offsets[i];
  } else {
    size_t want = f->f.random ? f->f.random : 1;
    if (want > NETEM_MAX_OFFSETS) want = NETEM_MAX_OFFSETS;
    if (want > plen) want = plen;
    while (n < want) {
      uint64_t q = rng_below(&rng, plen);
      int dup = 0;
      for (size_t i = 0; i < n; i++) dup |= pos[i] == q;
      if (!dup) pos[n++] = q;
    }
  }
  for (size_t i = 0; i < n; i++) {
    size_t k = pkt->payload_off + (size_t)pos[i];
    uint8_t mask = f->f.xor_mask ? (uint8_t)f->f.xor_mask : (uint8_t)(1 + rng_below(&rng, 255));
    struct netem_event ev;
    proxy__event_init(&ev, NETEM_EV_FAULT, d);
    ev.fault_id = f->id;
    ev.fault = "mqtt-corrupt";
    ev.action = "corrupt";
    ev.offset = pkt->off + k;
    ev.topic = pkt->topic;
    ev.old_byte = data[k];
    data[k] ^= mask;
    ev.new_byte = data[k];
    char detail[48];
    snprintf(detail, sizeof detail, "payload byte %llu", (unsigned long long)pos[i]);
    ev.detail = detail;
    proxy__emit(d->c->p, &ev);
  }
}

static void delayed_closed(uv_handle_t *h) {
  struct delayed *dl = h->data;
  struct conn *c = dl->d->c;
  chunk_unref(dl->ch);
  free(dl);
  conn__unref(c);
}

static void unlink_delayed(struct conn *c, struct delayed *dl) {
  for (struct delayed **pp = &c->delayed; *pp; pp = &(*pp)->next)
    if (*pp == dl) {
      *pp = dl->next;
      return;
    }
}

/* Queue a held packet now and close its timer. */
static void release(struct delayed *dl) {
  struct dir *d = dl->d;
  struct conn *c = d->c;
  unlink_delayed(c, dl);
  if (!c->closing) {
    struct span_meta m = {dl->off, 0, 0, 0, -1};
    pipe__bytes(d, dl->ch, dl->ch->data, dl->ch->size, m);
  }
  uv_close((uv_handle_t *)&dl->timer, delayed_closed);
  if (!c->closing) pipe__pump(d);
}

static void delayed_timer_cb(uv_timer_t *t) { release(t->data); }

static void hold(struct dir *d, struct fault *f, struct chunk *ch, uint64_t off) {
  struct delayed *dl = calloc(1, sizeof *dl);
  if (!dl) {
    conn__close(d->c, 1, "out of memory");
    return;
  }
  dl->d = d;
  dl->fault_id = f->id;
  dl->ch = ch;
  ch->refs++;
  dl->off = off;
  uv_timer_init(d->c->p->loop, &dl->timer);
  dl->timer.data = dl;
  conn__ref(d->c);
  dl->next = d->c->delayed;
  d->c->delayed = dl;
  proxy__timer_start_after(&dl->timer, delayed_timer_cb, f->f.ms);
}

void stage_mqtt_flush_delayed(struct conn *c, uint32_t fault_id) {
  struct delayed *dl = c->delayed;
  while (dl) {
    struct delayed *next = dl->next;
    if (dl->fault_id == fault_id) release(dl);
    dl = next;
  }
}

void stage_mqtt_conn_closed(struct conn *c) {
  while (c->delayed) {
    struct delayed *dl = c->delayed;
    c->delayed = dl->next;
    uv_close((uv_handle_t *)&dl->timer, delayed_closed);
  }
}

/* What the client subscribes to: a cloud can wait for it before it pushes (a
 * message published to a topic nobody has subscribed yet is lost). */
static void subscribe_event(struct dir *d, const struct mqtt_packet *pkt) {
  char filters[512];
  if (mqtt_subscribe_filters(pkt, mqtt_frame_version(d->mf), filters, sizeof filters) < 0) return;
  struct netem_event ev;
  proxy__event_init(&ev, NETEM_EV_MQTT_SUBSCRIBE, d);
  ev.offset = pkt->off;
  ev.topic = filters;
  proxy__emit(d->c->p, &ev);
}

void stage_mqtt_packet(struct dir *d, struct mqtt_packet *pkt) {
  struct conn *c = d->c;
  struct netem_proxy *p = c->p;
  if (pkt->type == MQTT_CONNECT && d->which == NETEM_DIR_UP) mqtt_frame_set_version(c->down.mf, pkt->protocol_level);
  if (d->which == NETEM_DIR_UP && p->login_hold && !c->login_done && stage_login_take(d, pkt)) return;
  struct chunk *ch = chunk_new(pkt->len);
  if (!ch) {
    conn__close(c, 1, "out of memory");
    return;
  }
  memcpy(ch->data, pkt->data, pkt->len);
  int drop = 0, dup = 0;
  struct fault *delay = NULL, *cut = NULL;
  if (pkt->type == MQTT_SUBSCRIBE && d->which == NETEM_DIR_UP) subscribe_event(d, pkt);
  if (pkt->type == MQTT_PUBLISH) {
    struct netem_event ev;
    proxy__event_init(&ev, NETEM_EV_MQTT_PUBLISH, d);
    ev.offset = pkt->off;
    ev.topic = pkt->topic;
    ev.packet_len = pkt->len;
    proxy__emit(p, &ev);
    for (struct fault *f = p->faults; f; f = f->next) {
      if (f->f.kind < NETEM_FAULT_MQTT_DROP || !proxy__fault_applies(f, d) || !proxy__fault_available(f) ||
          !mqtt_topic_match(f->f.topic, pkt->topic, pkt->topic_len))
        continue;
      switch (f->f.kind) {
      case NETEM_FAULT_MQTT_DROP:
        if (drop || delay) break;
        drop = 1;
        f->fired++;
        fault_event(d, f, "drop", pkt);
        break;
      case NETEM_FAULT_MQTT_DELAY:
        if (drop || delay) break;
        delay = f;
        f->fired++;
        fault_event(d, f, "delay", pkt);
        break;
      case NETEM_FAULT_MQTT_DUP:
        dup = 1;
        f->fired++;
        fault_event(d, f, "duplicate", pkt);
        break;
      case NETEM_FAULT_MQTT_CORRUPT:
        f->fired++;
        corrupt_payload(d, f, pkt, ch->data);
        break;
      case NETEM_FAULT_MQTT_CUT:
        if (++f->matches == f->f.nth && !cut) cut = f;
        break;
      default: break;
      }
    }
  }
  if (drop) {
    chunk_unref(ch);
    return;
  }
  if (delay) {
    hold(d, delay, ch, pkt->off);
    chunk_unref(ch);
    return;
  }
  struct span_meta m = {pkt->off, 0, 0, 0, -1};
  pipe__bytes(d, ch, ch->data, pkt->len, m);
  if (dup && !d->cut && !c->closing) {
    struct chunk *ch2 = chunk_new(pkt->len);
    if (ch2) {
      memcpy(ch2->data, ch->data, pkt->len);
      if (pkt->qos > 0) ch2->data[0] |= 0x08; /* a resend, as after a lost PUBACK */
      pipe__bytes(d, ch2, ch2->data, pkt->len, m);
      chunk_unref(ch2);
    }
  }
  chunk_unref(ch);
  if (cut && !d->cut && !c->closing) {
    m.off = pkt->off + pkt->len;
    stage_cut_fire(cut, d, &m);
  }
}
