#!/usr/bin/env bash
# tests/integration/media_load.sh  Every frame of many concurrent calls
# comes back once, intact and on time through a looped E1 span: rtpload
# places 30 calls (one full E1) that send numbered G.711 frames; pstnsim
# echoes each B-channel; rtpload checks each frame that returns (none
# lost, doubled, late or damaged; no RTP sequence gaps from the gateway).
# Then a call with a damaged path must be caught: the PCMU side of a
# law conversion (A-law span) cannot return our bytes intact.  Then the
# same loop with SRTP (SDES, AES_CM_128_HMAC_SHA1_80) on every call, and
# each direction on its own with time-stamped probes.
SPAN_TYPE=e1 SWITCH=euroisdn_e1
export SPAN_TYPE SWITCH
. "$(dirname "$0")/lib.sh"
RTPLOAD=$BUILD/tests/tools/rtpload

write_conf
# jb_mode = fixed: the adaptive buffer time-scales its delay (in quiet
# frames by tens of samples, which is not heard but is not our octets);
# the fixed one passes octets as they came, so each probe can be checked
# whole.  The adaptive one is jitter.sh's and test_jbuf's.
# jb_min = 100: a loaded test machine delays packets by tens of ms.
# The fixed buffer holds the delay its first packets set (it slips only
# for a far clock's drift, none here), so no probe should be damaged or
# late; 1% is allowed for what a loaded machine does to the path (a
# packet over 100 ms late plays as silence), and none may be lost or
# doubled.
sed -i '/^\[trunk pbx\]/a srtp = optional\njb_mode = fixed\njb_min = 100' "$WORK/tollgate.conf"
start_pstnsim --media echo --rule 777=answer,media=stamp
start_gw

RTPBASE=$((RTP_MAX + 100))
out=$(timeout 60 "$RTPLOAD" --gw "127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--sip-port "$PBX_PORT" --rtp-port "$RTPBASE" --calls 30 --rate 15 \
	--hold 6 --law pcma --json 2>>"$WORK/rtpload.log") ||
	log "30 looped calls not all clean: $out"
for f in connected:30 failed:0 silent:0 lost:0 dup:0 seq_gaps:0; do
	expect_eq "${f%%:*}" "${f#*:}" "$(json_field "$out" "${f%%:*}")"
done
back=$(json_field "$out" frames)
bad=$(( $(json_field "$out" damaged) + $(json_field "$out" late) ))
[ $((bad * 100)) -le "$back" ] || fail "looped: $bad damaged or late of $back: $out"
# 30 calls x 6 s at 50 frames/s, less each call's first second (the
# jitter buffer settling: not judged) and the path filling at its start.
[ "$back" -ge 7000 ] || fail "only $back frames came back: $out"
log "ok: 30 looped calls, $back frames back, none lost or doubled, $bad damaged or late, $(json_field "$out" slipped) slipped (rtt p50 $(json_field "$out" p50_ms) ms, p99 $(json_field "$out" p99_ms) ms)"
wait_cdrs 30
expect_eq "answered CDRs" 30 "$(sql "SELECT count(*) FROM cdr WHERE q850_cause = 16 AND answer_ms > 0")"
log "ok: 30 CDRs, answered, cause 16"

# The checker must see damage: PCMU on the SIP side of an A-law span
# goes through two conversions, which do not give our octets back.
out=$(timeout 30 "$RTPLOAD" --gw "127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--sip-port "$PBX_PORT" --rtp-port "$RTPBASE" --calls 1 --hold 2 \
	--law pcmu --json 2>>"$WORK/rtpload.log") &&
	fail "a converting path passed as intact: $out"
[ "$(json_field "$out" connected)" = 1 ] || fail "PCMU call: $out"
[ "$(json_field "$out" frames)" = 0 ] ||
	[ "$(json_field "$out" damaged)" -gt 0 ] ||
	fail "PCMU call not caught: $out"
log "ok: a converted (PCMU over A-law) path is reported, not passed"

# SRTP both ways: every frame still comes back once (a packet that
# fails to authenticate counts as damaged; 1% allowed, as above).
out=$(timeout 40 "$RTPLOAD" --gw "127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--sip-port "$PBX_PORT" --rtp-port "$RTPBASE" --calls 10 --rate 10 \
	--hold 3 --law pcma --srtp --json 2>>"$WORK/rtpload.log") ||
	log "SRTP looped calls not all clean: $out"
for f in connected:10 failed:0 silent:0 lost:0 dup:0 seq_gaps:0; do
	expect_eq "SRTP ${f%%:*}" "${f#*:}" "$(json_field "$out" "${f%%:*}")"
done
n=$(json_field "$out" frames)
d=$(json_field "$out" damaged)
[ "$n" -ge 900 ] && [ $((d * 100)) -le "$n" ] ||
	fail "SRTP: $n probes back, $d damaged: $out"
log "ok: 10 SRTP calls, $n frames back, $d damaged, $(json_field "$out" slipped) slipped"

# Each direction on its own: pstnsim and rtpload both send time-stamped
# probes and check the other's (one-way delay, loss, damage).
out=$(timeout 40 "$RTPLOAD" --gw "127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--sip-port "$PBX_PORT" --rtp-port "$RTPBASE" --calls 10 --rate 10 \
	--hold 4 --law pcma --number 7770100 --stamp --json \
	2>>"$WORK/rtpload.log") || fail "stamped calls: $out"
for f in connected:10 failed:0 tdm_rtp_lost:0 tdm_rtp_dup:0 tdm_rtp_damaged:0 seq_gaps:0; do
	expect_eq "${f%%:*}" "${f#*:}" "$(json_field "$out" "${f%%:*}")"
done
n=$(json_field "$out" tdm_rtp_frames)
[ "$n" -ge 1400 ] || fail "B -> RTP: only $n probes: $out"
p99=$(json_field "$out" tdm_rtp_p99_ms)
awk -v p="$p99" 'BEGIN { exit !(p < 20) }' ||
	fail "B -> RTP p99 $p99 ms: the gateway holds frames back: $out"
log "ok: B -> RTP: $n probes, none lost/doubled/damaged, p50 $(json_field "$out" tdm_rtp_p50_ms) ms, p99 $p99 ms"
wait_for "pstnsim records of the stamped calls" 10 pstnsim_calls_ge 51
recs=$(grep '"played":"stamp"' "$WORK/pstnsim.jsonl")
expect_eq "stamped pstnsim calls" 10 "$(printf '%s\n' "$recs" | wc -l)"
printf '%s\n' "$recs" | while read -r rec; do
	[ "$(json_field "$rec" stamp_rx)" -ge 130 ] &&
	[ "$(json_field "$rec" stamp_lost)" = 0 ] &&
	[ "$(json_field "$rec" stamp_dup)" = 0 ] &&
	[ "$(json_field "$rec" stamp_damaged)" -le 2 ] ||
		fail "RTP -> B: $rec"
	awk -v p="$(json_field "$rec" stamp_p99_ms)" 'BEGIN { exit !(p < 160) }' ||
		fail "RTP -> B delay: $rec"
done
rx=$(printf '%s\n' "$recs" | sed -n 's/.*"stamp_rx":\([0-9]*\).*/\1/p' | paste -sd+ | bc)
dmg=$(printf '%s\n' "$recs" | sed -n 's/.*"stamp_damaged":\([0-9]*\).*/\1/p' | paste -sd+ | bc)
[ $((dmg * 100)) -le "$rx" ] || fail "RTP -> B: $dmg of $rx probes damaged"
log "ok: RTP -> B: every stamped call's probes arrived once, $dmg of $rx damaged, p50 $(printf '%s\n' "$recs" | head -1 | sed -n 's/.*"stamp_p50_ms":\([0-9.]*\).*/\1/p') ms"
