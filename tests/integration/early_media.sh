#!/usr/bin/env bash
# tests/integration/early_media.sh  Q.931 progress indicators -> 180/183,
# per span ([span N] early_media), switched by reload.
#
#  pi (default): ALERTING with in-band information (PI 8) -> 183 with SDP;
#     ALERTING without -> 180; CALL PROCEEDING with PI 8 -> 183; PROGRESS
#     with PI 8 -> 183.
#  never: ALERTING with PI 8 -> 180; PROCEEDING / PROGRESS with it -> no
#     18x at all (the PBX plays its own ringback).
#  always: ALERTING without PI -> 183.
#  Overlap sending: SETUP ACKNOWLEDGE with PI 8 (dial tone) -> 183 (pi),
#     nothing (never); the ALERTING after it 180.
. "$(dirname "$0")/lib.sh"

write_conf
start_pstnsim --rule 5551800=alert-inband --rule 5551801=answer \
	--rule 5551802=proceeding-inband --rule 5551803=progress --answer-after 400
start_gw

# prov NUMBER: the provisional responses the caller got, "100,183".
prov() {
	local out
	out=$(timeout 20 "$TGCALL" call "sip:$1@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
		--from 2125550000 --expect 200 --hold 100 --tone 0 2>>"$WORK/tgcall.log") ||
		fail "call to $1: $out"
	printf '%s\n' "$out" | sed -n 's/.*"provisional":\[\([0-9,]*\)\].*/\1/p'
}
mode() {
	sed -i '/^\[span 1\]/,/^\[/{/^early_media = /d}' "$WORK/tollgate.conf"
	sed -i "/^\[span 1\]/a early_media = $1" "$WORK/tollgate.conf"
	ctl reload >/dev/null || fail "reload to $1"
}

expect_eq "pi: ALERTING with PI 8" "$(prov 5551800)" "100,183"
expect_eq "pi: ALERTING without" "$(prov 5551801)" "100,180"
expect_eq "pi: PROCEEDING with PI 8" "$(prov 5551802)" "100,183"
expect_eq "pi: PROGRESS with PI 8" "$(prov 5551803)" "100,183"
mode never
expect_eq "never: ALERTING with PI 8" "$(prov 5551800)" "100,180"
expect_eq "never: PROCEEDING with PI 8" "$(prov 5551802)" "100"
expect_eq "never: PROGRESS with PI 8" "$(prov 5551803)" "100"
mode always
expect_eq "always: ALERTING without PI" "$(prov 5551801)" "100,183"
log "ok: progress indicators to 180/183, each early_media mode"

# SETUP ACKNOWLEDGE with PI 8 (dial tone while the network takes the rest
# of an overlap-sent number): 183 for an en-bloc SIP caller, unless never.
kill -TERM "$PSTN_PID" 2>/dev/null || true
wait "$PSTN_PID" 2>/dev/null || true
start_pstnsim --overlap-receive 10 --overlap-inband --answer-after 400
sed -i '/^\[span 1\]/a overlap_send = yes\noverlap_send_digits = 4' "$WORK/tollgate.conf"
mode pi
wait_for "the span to come back" 10 span_up
wait_for "its RESTARTs" 10 sh -c "! '$TGCTL' -s '$CTL' --json show channels | grep -q restarting"
expect_eq "pi: SETUP ACKNOWLEDGE with PI 8, then ALERTING" "$(prov 2125551801)" "100,183,180"
grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1 | grep -q '"overlap":true' ||
	fail "the call was not sent overlap"
mode never
wait_for "the span to come back" 10 span_up
wait_for "its RESTARTs" 10 sh -c "! '$TGCTL' -s '$CTL' --json show channels | grep -q restarting"
expect_eq "never: SETUP ACKNOWLEDGE with PI 8, then ALERTING" "$(prov 2125551801)" "100,180"
log "ok: SETUP ACKNOWLEDGE with in-band information"
