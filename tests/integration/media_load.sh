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
sed -i '/^\[trunk pbx\]/a srtp = optional' "$WORK/tollgate.conf"
start_pstnsim --media echo --rule 777=answer,media=stamp
start_gw

RTPBASE=$((RTP_MAX + 100))
out=$(timeout 60 "$RTPLOAD" --gw "127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--sip-port "$PBX_PORT" --rtp-port "$RTPBASE" --calls 30 --rate 15 \
	--hold 6 --law pcma --json 2>>"$WORK/rtpload.log") ||
	fail "30 looped calls: $out ($(tail -5 "$WORK/rtpload.log"))"
for f in connected:30 failed:0 lost:0 dup:0 late:0 damaged:0 seq_gaps:0; do
	expect_eq "${f%%:*}" "${f#*:}" "$(json_field "$out" "${f%%:*}")"
done
back=$(json_field "$out" frames_back)
# 30 calls x 6 s at 50 frames/s, less the path filling at each start.
[ "$back" -ge 8500 ] || fail "only $back frames came back: $out"
log "ok: 30 looped calls, $back frames back, none lost/doubled/late/damaged (rtt p50 $(json_field "$out" rtt_p50_ms) ms, p99 $(json_field "$out" rtt_p99_ms) ms)"
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
[ "$(json_field "$out" frames_back)" = 0 ] ||
	[ "$(json_field "$out" damaged)" -gt 0 ] ||
	fail "PCMU call not caught: $out"
log "ok: a converted (PCMU over A-law) path is reported, not passed"

# SRTP both ways: every frame still comes back once and intact (a packet
# that fails to authenticate counts as damaged).
out=$(timeout 40 "$RTPLOAD" --gw "127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--sip-port "$PBX_PORT" --rtp-port "$RTPBASE" --calls 10 --rate 10 \
	--hold 3 --law pcma --srtp --json 2>>"$WORK/rtpload.log") ||
	fail "SRTP looped calls: $out ($(tail -3 "$WORK/rtpload.log"))"
for f in connected:10 lost:0 dup:0 late:0 damaged:0 seq_gaps:0; do
	expect_eq "SRTP ${f%%:*}" "${f#*:}" "$(json_field "$out" "${f%%:*}")"
done
log "ok: 10 SRTP calls, $(json_field "$out" frames_back) frames back intact"

# Each direction on its own: pstnsim and rtpload both send time-stamped
# probes and check the other's (one-way delay, loss, damage).
out=$(timeout 40 "$RTPLOAD" --gw "127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--sip-port "$PBX_PORT" --rtp-port "$RTPBASE" --calls 10 --rate 10 \
	--hold 4 --law pcma --number 7770100 --stamp \
	2>>"$WORK/rtpload.log") || fail "stamped calls: $out"
for f in connected:10 failed:0 tdm_rtp_lost:0 tdm_rtp_dup:0 tdm_rtp_damaged:0 seq_gaps:0; do
	expect_eq "${f%%:*}" "${f#*:}" "$(json_field "$out" "${f%%:*}")"
done
n=$(json_field "$out" tdm_rtp_frames)
[ "$n" -ge 1900 ] || fail "B -> RTP: only $n probes: $out"
p99=$(json_field "$out" tdm_rtp_p99_ms)
awk -v p="$p99" 'BEGIN { exit !(p < 20) }' ||
	fail "B -> RTP p99 $p99 ms: the gateway holds frames back: $out"
log "ok: B -> RTP: $n probes, none lost/doubled/damaged, p50 $(json_field "$out" tdm_rtp_p50_ms) ms, p99 $p99 ms"
wait_for "pstnsim records of the stamped calls" 10 pstnsim_calls_ge 51
recs=$(grep '"played":"stamp"' "$WORK/pstnsim.jsonl")
expect_eq "stamped pstnsim calls" 10 "$(printf '%s\n' "$recs" | wc -l)"
printf '%s\n' "$recs" | while read -r rec; do
	[ "$(json_field "$rec" stamp_rx)" -ge 180 ] &&
	[ "$(json_field "$rec" stamp_lost)" = 0 ] &&
	[ "$(json_field "$rec" stamp_dup)" = 0 ] &&
	[ "$(json_field "$rec" stamp_damaged)" = 0 ] ||
		fail "RTP -> B: $rec"
	awk -v p="$(json_field "$rec" stamp_p99_ms)" 'BEGIN { exit !(p < 120) }' ||
		fail "RTP -> B delay: $rec"
done
log "ok: RTP -> B: every stamped call's probes arrived once and intact, p50 $(printf '%s\n' "$recs" | head -1 | sed -n 's/.*"stamp_p50_ms":\([0-9.]*\).*/\1/p') ms"
