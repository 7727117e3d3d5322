#!/usr/bin/env bash
# tests/integration/reinvite_srtp.sh  Re-INVITEs on an SDES SRTP call (RFC
# 4568 7.1.4) on a trunk with srtp = mandatory: the same a=crypto line
# again keeps our key, a new tag and suite get a new line and key, a hold
# keeps them, and a plain RTP/AVP re-offer gets 488 (the call stays up
# and SRTP).  Signalling only (dialog_ua.py speaks no SRTP); srtp.sh has
# SRTP audio with baresip.
. "$(dirname "$0")/lib.sh"

write_conf
sed -i '/^\[trunk pbx\]/a srtp = mandatory' "$WORK/tollgate.conf"
start_pstnsim
start_gw

UA=$SRC/tests/integration/dialog_ua.py
timeout 40 python3 "$UA" --gw "127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --rtp "$(free_udp_port)" --script srtp \
	> "$WORK/ua-srtp.log" 2>&1 || { cat "$WORK/ua-srtp.log" >&2;
	fail "re-INVITEs on an SRTP call"; }
log "$(grep -c '^ok:' "$WORK/ua-srtp.log") checks passed"
wait_cdrs 1
expect_eq "CDR of the SRTP call" "$(sql "SELECT disposition || ' ' ||
	q850_cause FROM cdr ORDER BY rowid DESC LIMIT 1")" "ANSWERED 16"
