#!/usr/bin/env bash
# tests/integration/jitter.sh  A SIP far end whose RTP comes with 0-40 ms
# of jitter (reordered) and 4% loss: what pstnsim hears on the B-channel is
# the tone with no dropout (the adaptive jitter buffer waits for the late
# packets and conceals the lost ones).  The same stream through the fixed
# buffer (jb_mode = fixed on the trunk, after a reload) has dropouts, as
# this test must be able to see.
. "$(dirname "$0")/lib.sh"

write_conf
start_pstnsim --media tone:1000 --detect 1000
start_gw

# $1: pstnsim records expected after it; prints the last one.
jcall() {
	local out
	out=$(timeout 20 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" \
		--local "127.0.0.1:$PBX_PORT" --tone 1000 --hold 4000 \
		--jitter 40 --loss 4 2>>"$WORK/tgcall.log") ||
		fail "jittered call: $out"
	wait_for "pstnsim's record of call $1" 10 pstnsim_calls_ge "$1"
	grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1
}

rec=$(jcall 1)
gaps=$(json_field "$rec" rx_gap_frames)
ratio=$(json_field "$rec" rx_tone_ratio)
log "adaptive: $rec"
expect_eq "silent frames within the tone (adaptive)" "$gaps" 0
awk -v r="$ratio" 'BEGIN { exit !(r > 0.9) }' ||
	fail "adaptive: tone ratio $ratio: $rec"
log "ok: jitter 0-40 ms and 4% loss: the tone plays without a dropout"

# The fixed buffer: late packets dropped, lost ones silence.
sed -i '/^\[trunk pbx\]/a jb_mode = fixed\njb_min = 20' "$WORK/tollgate.conf"
ctl reload >/dev/null || fail "reload failed"
wait_for "reload logged" 5 grep -q "reloaded" "$WORK/tollgated.log"
rec=$(jcall 2)
gaps=$(json_field "$rec" rx_gap_frames)
log "fixed: $rec"
[ "$gaps" -ge 3 ] || fail "fixed buffer: only $gaps silent frames: $rec"
log "ok: the fixed buffer on the same stream leaves $gaps frames of silence"
