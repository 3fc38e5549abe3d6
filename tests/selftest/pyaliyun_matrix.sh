#!/bin/bash
# The Aliyun suite's self-test against the independent Python device
# (tests/devices/aliyun_device.py): scenarios/aliyun against a correct one and
# one per field defect (--bug NAME); matrix_lib.sh runs it, prints the defect x
# scenario matrix and asserts. This file is the data.
. "$(dirname "$0")/matrix_lib.sh"
. "$(dirname "$0")/pyaliyun_lab.sh"

# defect -> the scenario that must FAIL on it
EXPECT="
no-resume              06_resume_after_cut
trust-md5              07_wrong_md5
trust-md5              08_wrong_sha256
no-block-crc           05_block_corrupted
informs-before-reboot  11_rollback
"
IMG=$(mktemp -d /tmp/otahil-pyaliyun-img-XXXXXX) || exit 2
pyaliyun_images "$IMG" MCU || { rm -rf "$IMG"; echo "not ok - mkimage"; exit 1; }
# matrix_run exits (and sets its own EXIT trap): run it in a subshell
( matrix_run aliyun 15 "$EXPECT" < <(pyaliyun_family_dev aliyun aliyun MCU "$IMG") )
rc=$?
rm -rf "$IMG"
exit $rc
