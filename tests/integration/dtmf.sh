#!/usr/bin/env bash
# tests/integration/dtmf.sh  DTMF across the gateway, per [trunk] dtmf.
#
# pstnsim echoes the B-channel, so every digit makes the round trip
# SIP -> B-channel tone -> PSTN -> back: what tgcall gets back shows both
# directions.  rfc4733: events sent (also without markers and with five
# ends) come back as exactly those events (marker, one timestamp, three
# ends, sequence numbers unbroken), tones sent in-band come back as
# events only, with no digit left in the audio; tshark decodes our
# events.  info: INFO digits and in-band digits come back as INFO.
# inband (and a peer without telephone-event): digits pass as audio.
. "$(dirname "$0")/lib.sh"

# call ARGS...: one SIP -> PSTN call through the echo, its JSON line.
call() {
	timeout 25 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" \
		--local "127.0.0.1:$PBX_PORT" --tone 0 --hold 2400 "$@" \
		2>>"$WORK/tgcall.log" || fail "call $*: failed"
}

# check JSON FIELD WANT WHAT
check() {
	expect_eq "$4" "$(json_field "$1" "$2")" "$3"
}

trunk_dtmf() {
	write_conf
	[ -z "$1" ] || sed -i "/^\[trunk pbx\]/a dtmf = $1" "$WORK/tollgate.conf"
}

command -v tshark >/dev/null || { log "SKIP: tshark not installed"; exit 77; }

trunk_dtmf ""
start_pstnsim --media echo
start_gw
tshark -q -i lo -f "udp portrange $RTP_MIN-$RTP_MAX" -w "$WORK/rtp.pcapng" \
	> "$WORK/tshark.log" 2>&1 &
TSHARK_PID=$!
PIDS+=("$TSHARK_PID")
wait_for "tshark to capture" 10 grep -q "Capturing on" "$WORK/tshark.log"

# rfc4733 (the default): events there and back.
out=$(call --dtmf-send 4567)
check "$out" dtmf_remote_pt 101 "telephone-event answered with the offer's PT"
check "$out" dtmf_events 4567 "events 4567 back, each once"
check "$out" dtmf_event_errors 0 "marker/timestamp/duration/3 ends of our events"
check "$out" dtmf_seq_gaps 0 "sequence numbers across audio and events"
check "$out" dtmf_inband "" "no digit in the audio"
log "ok: rfc4733: events 4567 -> tones -> events 4567"

# A provider that sends no marker bits and five end packets.
out=$(call --dtmf-send 4567 --dtmf-no-marker --dtmf-ends 5)
check "$out" dtmf_events 4567 "no marker, 5 ends: events 4567 back, each once"
check "$out" dtmf_event_errors 0 "our events"
log "ok: rfc4733: no markers and repeated ends neither lose nor double"

# In-band digits toward the PSTN come back (echoed) as events only.
out=$(call --dtmf-events --dtmf-tones 123#)
check "$out" dtmf_events "123#" "PSTN in-band 123# as events"
check "$out" dtmf_event_errors 0 "our events"
check "$out" dtmf_inband "" "no in-band residue of 123#"
log "ok: rfc4733: in-band 123# from the PSTN -> events 1,2,3,#, audio muted"

# A peer without telephone-event: in-band both ways.
out=$(call --dtmf-tones 123#)
check "$out" dtmf_remote_pt -1 "no telephone-event offered, none answered"
check "$out" dtmf_inband "123#" "no telephone-event: digits in the audio"
log "ok: rfc4733 without telephone-event at the peer -> in-band"

# The PSTN calls the PBX: our offer has telephone-event 101.
kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
"$TGCALL" answer --local "127.0.0.1:$PBX_PORT" --tone 0 --hold 2400 \
	--count 1 --timeout 30 --dtmf-send 89 > "$WORK/answer.json" \
	2>>"$WORK/tgcall.log" &
ANS_PID=$!
PIDS+=("$ANS_PID")
start_pstnsim --media echo --originate 1 --rate 1 --to 5550142 \
	--from 2125559999 --hold 4000 --exit-when-done
wait "$ANS_PID" || fail "tgcall answer failed: $(cat "$WORK/answer.json")"
out=$(cat "$WORK/answer.json")
check "$out" dtmf_remote_pt 101 "our offer's telephone-event PT"
check "$out" dtmf_events 89 "events 89 back on an inbound call"
check "$out" dtmf_event_errors 0 "our events on an inbound call"
wait_for "pstnsim to finish" 10 sh -c "! kill -0 $PSTN_PID"
log "ok: PSTN -> SIP call: telephone-event offered, events both ways"

# What tshark makes of our events (the gateway's RTP ports only).
sleep 0.5
kill -INT "$TSHARK_PID"; wait "$TSHARK_PID" 2>/dev/null || true
ev=$(tshark -r "$WORK/rtp.pcapng" -o rtp.heuristic_rtp:TRUE \
	-Y "rtpevent && udp.srcport >= $RTP_MIN && udp.srcport <= $RTP_MAX" \
	-T fields -e rtp.marker -e rtpevent.event_id \
	-e rtpevent.end_of_event 2>/dev/null)
[ -n "$ev" ] || fail "tshark decoded no RTPEVENT from the gateway"
starts=$(printf '%s\n' "$ev" | awk '$1 == 1' | awk '{print $2}' | tr -d '\n')
# 4567, 4567, 123# (the in-band call's; # is 11) and 89: 14 events.
expect_eq "tshark: marked first packets" "$starts" 456745671231189
ends=$(printf '%s\n' "$ev" | awk '$3 == 1' | wc -l)
expect_eq "tshark: end packets (3 per event)" "$ends" $((14 * 3))
log "ok: tshark decodes the gateway's events as RTPEVENT"

# info: INFO digits become tones, tones become INFO.
kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null || true
trunk_dtmf info
start_pstnsim --media echo
start_gw
out=$(call --dtmf-events --dtmf-info 4567)
check "$out" dtmf_remote_pt -1 "dtmf=info: no telephone-event answered"
check "$out" dtmf_info 4567 "INFO 4567 -> tones -> INFO 4567"
check "$out" dtmf_inband "" "dtmf=info: no digit in the audio"
out=$(call --dtmf-tones 123#)
check "$out" dtmf_info "123#" "in-band 123# from the PSTN as INFO"
check "$out" dtmf_inband "" "dtmf=info: no in-band residue of 123#"
log "ok: info: INFO both ways with the right Signal values"

# inband: events are not answered, tones pass.
kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null || true
trunk_dtmf inband
start_gw
out=$(call --dtmf-events --dtmf-tones 123#)
check "$out" dtmf_remote_pt -1 "dtmf=inband: no telephone-event answered"
check "$out" dtmf_events "" "dtmf=inband: no events"
check "$out" dtmf_inband "123#" "dtmf=inband: digits pass as audio"
log "ok: inband: digits pass as audio"
