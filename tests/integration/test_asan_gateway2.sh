#!/bin/sh
# The second half of the ASan+UBSan gateway runs (see test_asan_gateway.sh):
# registration, reattach, operations (CDRs, call events, admin requests) and
# the malformed SIP corpus.
TANDEM_ASAN_TESTS="test_register test_reattach test_cdr test_events test_admin test_sip_malformed test_transfer test_trunks test_replaces" \
	exec sh "$(dirname "$0")/test_asan_gateway.sh"
