#!/usr/bin/env bash
# tests/integration/rtp_timeout.sh  A call whose SIP far end stops sending
# RTP is cleared after [sip] rtp_timeout with Q.850 cause 41 (temporary
# failure): BYE with Reason: Q.850;cause=41 to the SIP side, the PRI side
# released with 41, the CDR says so.  A call whose media goes on is not;
# [trunk] rtp_timeout = 0 turns it off for that trunk's calls.
. "$(dirname "$0")/lib.sh"

write_conf
sed -i '/^\[sip\]/a rtp_timeout = 3' "$WORK/tollgate.conf"
start_pstnsim
start_gw

# $1: what to tell tgcall about its media; prints its JSON line and,
# on fd 3, how long the call lasted in ms.
call() {
	local t0 t1 out
	t0=$(date +%s%N)
	out=$(timeout 30 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" \
		--local "127.0.0.1:$PBX_PORT" "$@" 2>>"$WORK/tgcall.log") || true
	t1=$(date +%s%N)
	log "call $*: $out ($(( (t1 - t0) / 1000000 )) ms)"
	echo "$out"
	echo $(( (t1 - t0) / 1000000 )) >"$WORK/elapsed"
}

# 1. Media stops 1.5 s into the call: cleared about 3 s later.
out=$(call --hold 15000 --media-stop-after 1500)
ms=$(cat "$WORK/elapsed")
expect_eq "silent call ended by" "$(json_field "$out" bye_by)" remote
expect_eq "BYE Reason cause" "$(json_field "$out" reason_cause)" 41
[ "$ms" -ge 4000 ] && [ "$ms" -le 8000 ] ||
	fail "silent call lasted $ms ms, expected 1.5 s + 3 s (+ the 1 s check)"
wait_cdrs 1
expect_eq "CDR of the silent call" "$(sql "SELECT disposition || ' ' || q850_cause FROM cdr ORDER BY rowid DESC LIMIT 1")" "ANSWERED 41"
wait_for "pstnsim's record of the silent call" 5 pstnsim_calls_ge 1
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1)
expect_eq "cause the PSTN got" "$(json_field "$rec" cause)" 41
log "ok: media stopped -> cleared after rtp_timeout, cause 41 both ways, CDR 41"

# 2. Media that goes on for longer than the timeout: the caller hangs up.
out=$(call --hold 5000)
expect_eq "talking call ended by" "$(json_field "$out" bye_by)" local
wait_cdrs 2
expect_eq "CDR of the talking call" "$(sql "SELECT q850_cause FROM cdr ORDER BY rowid DESC LIMIT 1")" 16
log "ok: a call with media is not timed out"

# 3. [trunk pbx] rtp_timeout = 0: no timeout for that trunk's calls.
sed -i '/^\[trunk pbx\]/a rtp_timeout = 0' "$WORK/tollgate.conf"
ctl reload >/dev/null || fail "reload"
out=$(call --hold 6000 --media-stop-after 1000)
expect_eq "silent call on a trunk without timeout ended by" "$(json_field "$out" bye_by)" local
log "ok: [trunk] rtp_timeout = 0 keeps a silent call"
