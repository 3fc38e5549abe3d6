/* login_policy: a fixed decision on held MQTT logins (see login_policy.h). */
#include "login_policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pending {
  uv_timer_t timer;
  struct pending *next;
  login_policy *lp;
  uint64_t conn_id;
};

struct login_policy {
  uv_loop_t *loop;
  netem_proxy *const *proxy;
  uint64_t hold_ms;
  enum login_policy_answer answer;
  int code;
  struct pending *pending;
};

login_policy *login_policy_new(uv_loop_t *loop, netem_proxy *const *proxy, uint64_t hold_ms,
                               enum login_policy_answer answer, int code) {
  login_policy *lp = calloc(1, sizeof *lp);
  if (!lp) return NULL;
  lp->loop = loop;
  lp->proxy = proxy;
  lp->hold_ms = hold_ms;
  lp->answer = answer;
  lp->code = code;
  return lp;
}

static void pending_closed(uv_handle_t *h) { free(h->data); }

static void unlink_pending(login_policy *lp, struct pending *x) {
  for (struct pending **pp = &lp->pending; *pp; pp = &(*pp)->next)
    if (*pp == x) {
      *pp = x->next;
      return;
    }
}

static void decide(uv_timer_t *t) {
  struct pending *x = t->data;
  login_policy *lp = x->lp;
  netem_proxy *p = *lp->proxy;
  char why[96];
  unlink_pending(lp, x);
  uv_close((uv_handle_t *)&x->timer, pending_closed);
  if (!p) return;
  snprintf(why, sizeof why, "otahil netem: held %llu ms, then %s", (unsigned long long)lp->hold_ms,
           lp->answer == LOGIN_POLICY_ACCEPT ? "accepted" : "refused (--login-refuse)");
  /* UV_ENOENT: the client closed meanwhile, or the proxy's own timeout refused it */
  if (lp->answer == LOGIN_POLICY_CODE) (void)netem_proxy_login_refuse_code(p, x->conn_id, lp->code, why);
  else (void)netem_proxy_login(p, x->conn_id, (enum netem_login)lp->answer, why); /* the orders match */
}

void login_policy_event(login_policy *lp, const struct netem_event *ev) {
  if (!lp || ev->kind != NETEM_EV_MQTT_LOGIN) return;
  struct pending *x = calloc(1, sizeof *x);
  if (!x) return; /* the proxy's timeout refuses it */
  x->lp = lp;
  x->conn_id = ev->conn_id;
  uv_timer_init(lp->loop, &x->timer);
  x->timer.data = x;
  x->next = lp->pending;
  lp->pending = x;
  uv_timer_start(&x->timer, decide, lp->hold_ms, 0); /* 0: the next loop turn */
}

int login_policy_parse_refuse(const char *s, enum login_policy_answer *answer, int *code) {
  if (strcmp(s, "bad-credentials") == 0) return *answer = LOGIN_POLICY_BAD_CREDENTIALS, 0;
  if (strcmp(s, "not-authorized") == 0) return *answer = LOGIN_POLICY_NOT_AUTHORIZED, 0;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 0);
  if (errno || end == s || *end || v < 1 || v > 255) return -1;
  *answer = LOGIN_POLICY_CODE;
  *code = (int)v;
  return 0;
}

void login_policy_close(login_policy *lp) {
  if (!lp) return;
  while (lp->pending) {
    struct pending *x = lp->pending;
    lp->pending = x->next;
    uv_close((uv_handle_t *)&x->timer, pending_closed);
  }
  free(lp);
}
