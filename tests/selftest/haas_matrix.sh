#!/bin/bash
# The HaaS suite's self-test: scenarios/haas against a correct otadev and one
# per HaaS defect; matrix_lib.sh runs it, prints the defect x scenario matrix
# and asserts. This file is the data; HaaS speaks Aliyun's topics, so the
# lab's device is aliyun_lab.sh's, with the firmware's module named "app".
. "$(dirname "$0")/matrix_lib.sh"
. "$(dirname "$0")/aliyun_lab.sh"

# defect -> the scenario that must FAIL on it (the scenario written to catch it)
EXPECT="
no-sha256               04_sha256_mismatch
wrong-step-code         04_sha256_mismatch
ignores-module          03_file_module
no-version-after-reboot 02_lower_version_trigger
progress-spam           05_progress_rate
crash-on-garbage        07_garbage
accepts-unknown-sign    07_garbage
"
matrix_run haas 7 "$EXPECT" < <(aliyun_family_dev haas app)
