#!/bin/bash
# The HaaS suite's self-test: scenarios/haas against a correct otadev and one
# per HaaS defect; the logic is aliyun_matrix.sh's (same topics, same checks).
exec bash "$(dirname "$0")/aliyun_matrix.sh" haas
