#include "lab_network.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static const char *const keys[] = {"listen", "host", "mqtt_port", "http_port", NULL};

static int is_address(const char *s) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int check_port(cJSON *net, const char *key, char *err, size_t errlen) {
  cJSON *p = cJSON_GetObjectItemCaseSensitive(net, key);
  if (!p) {
    cJSON_AddNumberToObject(net, key, 0);
    return 0;
  }
  if (!cJSON_IsNumber(p) || p->valuedouble != (double)(int)p->valuedouble || p->valueint < 0 ||
      p->valueint > 65535) {
    snprintf(err, errlen, "network.%s must be a port number 0..65535 (0: any free port)", key);
    return -1;
  }
  return 0;
}

int lab_network_check(cJSON *spec, char *err, size_t errlen) {
  cJSON *net = cJSON_GetObjectItemCaseSensitive(spec, "network");
  if (!net) net = cJSON_AddObjectToObject(spec, "network");
  if (!cJSON_IsObject(net)) {
    snprintf(err, errlen, "network must be a table { listen =, host =, mqtt_port =, http_port = }");
    return -1;
  }
  for (cJSON *k = net->child; k; k = k->next) {
    int known = 0;
    for (int i = 0; keys[i]; i++) known |= strcmp(k->string, keys[i]) == 0;
    if (!known) {
      snprintf(err, errlen, "network.%s is unknown (listen, host, mqtt_port, http_port)", k->string);
      return -1;
    }
  }
  cJSON *listen = cJSON_GetObjectItemCaseSensitive(net, "listen");
  if (!listen) listen = cJSON_AddStringToObject(net, "listen", "127.0.0.1");
  if (!cJSON_IsString(listen) || !is_address(listen->valuestring)) {
    snprintf(err, errlen, "network.listen '%s' is not an IPv4 or IPv6 address",
             cJSON_IsString(listen) ? listen->valuestring : "?");
    return -1;
  }
  cJSON *host = cJSON_GetObjectItemCaseSensitive(net, "host");
  if (!host) host = cJSON_AddStringToObject(net, "host", listen->valuestring);
  if (!cJSON_IsString(host) || !host->valuestring[0] || strpbrk(host->valuestring, "/ ?#@")) {
    snprintf(err, errlen, "network.host must be a host name or address the device can reach");
    return -1;
  }
  if (check_port(net, "mqtt_port", err, errlen) != 0) return -1;
  if (check_port(net, "http_port", err, errlen) != 0) return -1;
  cJSON *mp = cJSON_GetObjectItemCaseSensitive(net, "mqtt_port");
  cJSON *hp = cJSON_GetObjectItemCaseSensitive(net, "http_port");
  if (mp->valueint && mp->valueint == hp->valueint) {
    snprintf(err, errlen, "network.mqtt_port and network.http_port are both %d", mp->valueint);
    return -1;
  }
  return 0;
}

lab_net lab_network_of(const cJSON *spec) {
  const cJSON *n = cJSON_GetObjectItemCaseSensitive(spec, "network");
  lab_net net = {cJSON_GetObjectItemCaseSensitive(n, "listen")->valuestring,
                 cJSON_GetObjectItemCaseSensitive(n, "host")->valuestring,
                 cJSON_GetObjectItemCaseSensitive(n, "mqtt_port")->valueint,
                 cJSON_GetObjectItemCaseSensitive(n, "http_port")->valueint};
  return net;
}
