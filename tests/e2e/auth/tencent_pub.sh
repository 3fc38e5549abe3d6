#!/bin/bash
# A device that is only a real MQTT client: mosquitto_pub logging in with a
# Tencent-signed user name and password, computed here with openssl (another
# implementation than otadev's and qcloud.check_login's).
#   tencent_pub.sh HOST PORT PRODUCT DEVICE SECRET MODE [MQTT_VERSION [CA_FILE]]
# MODE: good (the right signature) | badpw (one byte of the password changed) |
# nopw (over TLS with CA_FILE, no password: as Tencent's SDK logs in by certificate):
# prints "pub: rc=N" with what mosquitto_pub said, then idles (the harness cuts power);
# hammer: reports its version on $ota/report/PRODUCT/DEVICE, a new connection every
# 0.2 s, refused or not (a device that does not back off).
host=$1 port=$2 product=$3 device=$4 secret=$5 mode=$6 version=${7:-mqttv311} ca=${8:-}
user="$product$device;21010406;e2e01;$(( $(date +%s) + 3600 ))"
key=$(printf %s "$secret" | base64 -d | od -An -tx1 | tr -d ' \n')
sign=$(printf %s "$user" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" | sed 's/.*= //')
[ "$mode" = badpw ] && sign="$( [ "${sign:0:1}" = 0 ] && echo 1 || echo 0)${sign:1}"
echo "login as $user"
if [ "$mode" = hammer ]; then
  while true; do
    mosquitto_pub -h "$host" -p "$port" -V "$version" -i "$product$device" -u "$user" -P "$sign;hmacsha256" \
      -t "\$ota/report/$product/$device" -m '{"type":"report_version","report":{"version":"1.0.0"}}' -q 1 2>&1
    sleep 0.2
  done
fi
if [ "$mode" = nopw ]; then
  out=$(mosquitto_pub -h "$host" -p "$port" -V "$version" -i "$product$device" -u "$user" --cafile "$ca" \
        -t "e2e/$device" -m hello -q 1 2>&1)
  echo "pub: rc=$? $out"
  exec sleep 60
fi
out=$(mosquitto_pub -h "$host" -p "$port" -V "$version" -i "$product$device" -u "$user" -P "$sign;hmacsha256" \
      -t "e2e/$device" -m hello -q 1 2>&1)
echo "pub: rc=$? $out"
exec sleep 60
