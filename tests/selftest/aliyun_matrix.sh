#!/bin/bash
# The Aliyun suite's self-test: scenarios/aliyun against a lab of otadev
# devices, a correct one and one per defect (--bug NAME); matrix_lib.sh runs
# it, prints the defect x scenario matrix and asserts. This file is the data;
# the lab's device is aliyun_lab.sh's (shared with haas_matrix.sh).
. "$(dirname "$0")/matrix_lib.sh"
. "$(dirname "$0")/aliyun_lab.sh"

# defect -> the scenario that must FAIL on it (the scenario written to catch it)
EXPECT="
progress-spam           12_progress_rate
wrong-step-code         07_wrong_md5
block-offset-off-by-one 03_happy_path_mqtt
no-block-retry          04_block_reply_dropped
no-block-crc            05_block_corrupted
no-sha256               08_wrong_sha256
ignores-module          13_two_modules
no-md5                  07_wrong_md5
no-resume               06_resume_after_cut
no-rollback             11_rollback
crash-on-garbage        15_garbage
"
matrix_run aliyun 15 "$EXPECT" < <(aliyun_family_dev aliyun MCU)
