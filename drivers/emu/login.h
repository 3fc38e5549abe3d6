/* login: the MQTT credentials a device signs with its device secret, as the platforms'
 * device SDKs sign them (otadev --secret). Facts from the vendors' public docs and SDKs:
 *
 * Tencent (qcloud; tencentyun/qcloud_iot_mqtt_sign readme.md, "MQTT 连接参数生成", and the
 * C SDK's qcloud_iot_export.h, QCLOUD_IOT_DEVICE_SDK_APPID "21010406"):
 *   client id  {productID}{deviceName}
 *   user name  {productID}{deviceName};21010406;{connid: a random string};{expiry: UTC seconds}
 *   password   hex(HMAC-SHA256(base64-decoded device secret, user name));hmacsha256
 * Aliyun (aliyun, haas; help.aliyun.com "MQTT-TCP连接通信" / document 73742, aliyun/iotkit-embedded):
 *   client id  {productKey}.{deviceName}|securemode=3,signmethod=hmacsha256,timestamp={ms}|
 *   user name  {deviceName}&{productKey}
 *   password   hex(HMAC-SHA256(device secret as given, "clientId{productKey}.{deviceName}"
 *              "deviceName{deviceName}productKey{productKey}timestamp{ms}")), the fields sorted
 */
#ifndef OTAHIL_EMU_LOGIN_H
#define OTAHIL_EMU_LOGIN_H

#include <stddef.h>
#include <time.h>

typedef struct login_creds {
  char client_id[256];
  char username[256];
  char password[160];
} login_creds;

/* Signs the login of device `device` of `product` for `dialect` ("qcloud", "aliyun",
 * "haas"; others: -1) with `secret` at time `now` (Tencent: valid for `lifetime`
 * seconds, its expiry now + lifetime; Aliyun: the timestamp, which no clock checks).
 * `bad` makes the HMAC wrong (one hex digit changed: the bad-signature defect).
 * Returns 0, or -1 with err (a secret that is not base64 for Tencent, an unknown
 * dialect). A device signs afresh before every CONNECT (device.c). */
int login_sign(const char *dialect, const char *product, const char *device, const char *secret, time_t now,
               long lifetime, int bad, login_creds *out, char *err, size_t errlen);

#endif
