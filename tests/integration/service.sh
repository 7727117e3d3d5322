#!/usr/bin/env bash
# tests/integration/service.sh  SERVICE messages (AT&T / NI-2 B-channel
# maintenance) both ways, with [span 1] service_messages = yes:
#
#  - pstnsim takes bearer 1 out of service when the link comes up: the
#    channel shows blocked by the far end and calls hunt past it.
#  - channel block / unblock send SERVICE out of service / in service;
#    pstnsim (libpri) acknowledges each.
#  - service_messages on a switch type without them is a config error.
. "$(dirname "$0")/lib.sh"

write_conf
sed -i '/^\[span 1\]/a service_messages = yes' "$WORK/tollgate.conf"
start_pstnsim --oos 1
start_gw

chan_json() { ctl --json show channels 1 | tr '}' '\n' | grep "\"chan\":$1,"; }
wait_for "channel 1 out of service at the far end" 5 sh -c \
	"'$TGCTL' -s '$CTL' --json show channels 1 | tr '}' '\n' | grep '\"chan\":1,' | grep -q '\"far_blocked\":true'"
ctl show channels 1 | grep -Eq '^1 +1 +blocked +far ' || fail "show channels: $(ctl show channels 1 | head -3)"
grep -q "span 1 chan 1: the far end says out of service" "$WORK/tollgated.log" ||
	fail "no log line for the far end's SERVICE"

n0=$(grep -c '"event":"call"' "$WORK/pstnsim.jsonl" || true)
timeout 20 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--from 2125550000 --expect 200 --hold 200 --tone 0 >/dev/null \
	2>>"$WORK/tgcall.log" || fail "call"
wait_for "pstnsim's record" 10 sh -c "[ \$(grep -c '\"event\":\"call\"' '$WORK/pstnsim.jsonl') -gt $n0 ]"
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1)
expect_eq "the call's channel (1 is out of service)" "$(json_field "$rec" chan)" 2

ctl channel block 1/3 >/dev/null || fail "block"
wait_for "SERVICE out of service for 3 at the PSTN" 5 grep -q '"event":"service","span":1,"chan":3,"status":2' "$WORK/pstnsim.jsonl"
wait_for "its acknowledgement" 5 grep -q "SERVICE ACKNOWLEDGE (channel 3, status 2)" "$WORK/tollgated.log"
ctl channel unblock 1/3 >/dev/null || fail "unblock"
wait_for "SERVICE in service for 3 at the PSTN" 5 grep -q '"event":"service","span":1,"chan":3,"status":0' "$WORK/pstnsim.jsonl"
# A block made while the link is down reaches the far end when it is back.
kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
wait_for "the link down" 10 sh -c "'$TGCTL' -s '$CTL' --json show spans | grep -q '\"dchan\":\"down\"'"
ctl channel block 1/4 >/dev/null || fail "block during the outage"
start_pstnsim --service
wait_for "SERVICE out of service for 4 once the link is back" 10 \
	grep -q '"event":"service","span":1,"chan":4,"status":2' "$WORK/pstnsim.jsonl"
log "ok: SERVICE messages both ways"

sed -i 's/^switch = ni2$/switch = euroisdn_t1/' "$WORK/tollgate.conf"
out=$("$TOLLGATED" -t -c "$WORK/tollgate.conf" 2>&1) && fail "service_messages on EuroISDN was taken"
echo "$out" | grep -q "service_messages needs switch ni2, lucent5e or att4ess" ||
	fail "config error: $out"
log "ok: service_messages only where the switch type has them"
