#!/bin/bash
# The HaaS suite's self-test against the independent Python device in its HaaS
# flavour (tests/devices/aliyun_device.py --flavour haas): scenarios/haas
# against a correct one and one per defect the suite can see. HaaS downloads
# over HTTP only (no-block-crc has nothing to act on) and the suite has no
# power-cut or rollback scenario, so no-resume and informs-before-reboot are
# left to pyaliyun_matrix.sh.
. "$(dirname "$0")/matrix_lib.sh"
. "$(dirname "$0")/pyaliyun_lab.sh"

EXPECT="
trust-md5              04_sha256_mismatch
"
IMG=$(mktemp -d /tmp/otahil-pyhaas-img-XXXXXX) || exit 2
pyaliyun_images "$IMG" app || { rm -rf "$IMG"; echo "not ok - mkimage"; exit 1; }
( matrix_run haas 7 "$EXPECT" < <(pyaliyun_family_dev haas haas app "$IMG") )
rc=$?
rm -rf "$IMG"
exit $rc
