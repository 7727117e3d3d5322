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
