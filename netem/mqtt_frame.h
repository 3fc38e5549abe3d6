/* mqtt_frame: reads MQTT 3.1.1 / 5 packets out of one direction of a byte stream.
 *
 * Bytes go in in any split; whole packets come out, with their stream offset and, for
 * PUBLISH, the topic (v5 topic aliases resolved) and where the payload starts. It reads
 * frames and nothing else: deciding what to do with a packet is the caller's job.
 */
#ifndef OTAHIL_MQTT_FRAME_H
#define OTAHIL_MQTT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define MQTT_CONNECT 1
#define MQTT_CONNACK 2
#define MQTT_PUBLISH 3
#define MQTT_SUBSCRIBE 8
#define MQTT_DISCONNECT 14

struct mqtt_packet {
  uint8_t type, flags;   /* fixed header: type 1..15, low nibble */
  uint8_t *data;         /* the whole packet (fixed header included); the caller may change
                            bytes in place; valid until the next mqtt_frame_feed() */
  size_t len;
  size_t hdr_len;        /* fixed header length (1 + remaining-length bytes) */
  uint64_t off;          /* stream offset of data[0] */
  /* PUBLISH only: */
  int qos, retain, dup;
  const char *topic;     /* NUL-terminated copy, valid as data */
  size_t topic_len;
  size_t payload_off;    /* index in data where the payload starts */
  uint16_t packet_id;    /* QoS > 0 */
  /* CONNECT only: */
  int protocol_level;    /* 3 = 3.1, 4 = 3.1.1, 5 = 5.0 */
};

typedef struct mqtt_frame mqtt_frame;

/* A new framer; packets larger than max_packet bytes are an error. NULL on OOM. */
mqtt_frame *mqtt_frame_new(size_t max_packet);
void mqtt_frame_free(mqtt_frame *f);

/* Protocol level for PUBLISH parsing (properties exist in 5). A CONNECT read by this
 * framer sets it; the other direction's framer must be told (default 4). */
void mqtt_frame_set_version(mqtt_frame *f, int level);
int mqtt_frame_version(const mqtt_frame *f);

/* Consumes bytes of data (sets *consumed). Returns 1 when a packet is complete (*pkt),
 * 0 when all of data was taken and no packet is complete yet, -1 on a framing error
 * (see mqtt_frame_error(); the framer then stays in error, and the caller should pass the
 * rest of the stream unparsed). On -1, pkt->data/len are the bytes the framer had taken
 * and not returned (possibly 0), so that the caller can pass them on too. */
int mqtt_frame_feed(mqtt_frame *f, const uint8_t *data, size_t len, size_t *consumed,
                    struct mqtt_packet *pkt);

/* The end of the stream: 0, or -1 if a packet was cut short ("truncated"); then
 * pkt->data/len are the bytes of that partial packet. */
int mqtt_frame_eof(mqtt_frame *f, struct mqtt_packet *pkt);

/* Bytes of an incomplete packet held by the framer. */
size_t mqtt_frame_pending(const mqtt_frame *f);

const char *mqtt_frame_error(const mqtt_frame *f);

/* 1 if topic (topic_len bytes) matches filter (with + and #), else 0. Per the spec, a
 * filter starting with a wildcard does not match topics starting with '$'. */
/* The topic filters of a SUBSCRIBE (protocol `level`: 5 has properties), joined
 * by spaces into out (a filter that does not fit is left out). Returns how many
 * there are, or -1 for a malformed packet or another type. */
int mqtt_subscribe_filters(const struct mqtt_packet *pkt, int level, char *out, size_t outlen);

int mqtt_topic_match(const char *filter, const char *topic, size_t topic_len);

#endif
