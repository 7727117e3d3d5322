#!/usr/bin/env bash
# tests/integration/peers.sh  Other real SIP tools against tollgated:
# sipsak's OPTIONS ping gets 200; a source no trunk accepts gets 403;
# sipvicious's svmap finds us by our Server header and svwar's extension
# scan gets refused without harming anything: a call afterwards connects.
. "$(dirname "$0")/lib.sh"

write_conf
start_pstnsim
start_gw

out=$(timeout 10 stdbuf -oL sipsak -v -s "sip:ping@127.0.0.1:$SIP_PORT" 2>&1) || true
echo "$out" > "$WORK/sipsak.log"
echo "$out" | grep -q "SIP/2.0 200" || fail "sipsak OPTIONS: $out"
echo "$out" | grep -qi "Allow:.*INVITE" || fail "OPTIONS answer without Allow: $out"
log "ok: sipsak OPTIONS ping answered 200 with Allow"

# 127.0.0.2 is on lo but in no trunk's accept_from.
out=$(timeout 10 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" \
	--local 127.0.0.2 --expect 403 2>>"$WORK/tgcall.log") ||
	fail "INVITE from an unknown source: $out"
expect_eq "INVITE from an unknown source" "$(json_field "$out" status)" 403

if command -v svmap >/dev/null; then
	out=$(timeout 30 svmap -b 127.0.0.1 -p "$SIP_PORT" 127.0.0.1 2>&1) || true
	echo "$out" > "$WORK/svmap.log"
	echo "$out" | grep -q "Tollgate" || fail "svmap did not identify us: $out"
	log "ok: svmap identifies the gateway"
	timeout 60 svwar -b 127.0.0.1 -p "$SIP_PORT" -e 100-300 -m INVITE \
		127.0.0.1 > "$WORK/svwar.log" 2>&1 || true
	kill -0 "$GW_PID" || fail "tollgated died under svwar"
	expect_eq "calls left behind by svwar" "$(ctl --json status | grep -o '"calls_active":[0-9]*' | tr -dc 0-9)" 0
	log "ok: svwar's scan left nothing behind"
fi

out=$(timeout 20 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" \
	--local 127.0.0.1 --hold 500 2>>"$WORK/tgcall.log") ||
	fail "call after the scans: $out"
log "ok: calls still connect"
