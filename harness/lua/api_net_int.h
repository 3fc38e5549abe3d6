/* api_net_int: what api_net.c and api_net_login.c share (private to t.net, see api_net.h). */
#ifndef OTAHIL_API_NET_INT_H
#define OTAHIL_API_NET_INT_H

#include "api_net.h"
#include "netem.h"

#define MT_STREAM "otahil.netstream"
#define MT_NET "otahil.net"
#define MT_FAULT "otahil.netfault"

typedef struct nstream {
  netdev *owner;
  netem_proxy *p;
  char name[96];
  int http;
  int tls;
  int login_hold;
} nstream;

struct netdev {
  evlog *log; /* NULL once closing: nothing is logged after the case */
  nstream mqtt, http;
  int closing_left;
  char pki[4096]; /* the test PKI's folder, "" if none */
};

typedef struct stream_ud {
  nstream *s;
  size_t cursor, login_cursor;
} stream_ud;

/* The stream at argument 1; raises once the case has ended. */
nstream *api_net__check(lua_State *L);

/* Logs "mqtt.login": a CONNECT the stream's proxy holds for a decision. */
void api_net__login_event(nstream *s, const struct netem_event *e);

/* Adds the login methods (login_hold, next_login, login_accept, login_refuse, on_login) to
 * the method table at index `methods`. */
void api_net__login_methods(lua_State *L, int methods);

#endif
