#!/usr/bin/env bash
# tests/integration/audio.sh  (f) A 1 kHz tone from the SIP side is heard at
# pstnsim, and one from pstnsim is heard at the SIP side, through mu-law
# and A-law (SIP law differing from the T1's mu-law: converted), in both
# call directions.  Neither end echoes, so each tone can only have come
# across the gateway.
. "$(dirname "$0")/lib.sh"

write_conf
start_pstnsim --media tone:1000 --detect 1000 --rule 5551704=progress \
	--answer-after 1000
start_gw

# PROGRESS with in-band information: 183 with SDP, then early media.
out=$(timeout 20 "$TGCALL" call "sip:5551704@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --tone 1000 --hold 500 \
	2>>"$WORK/tgcall.log") || fail "early-media call: $out"
echo "$out" | grep -q '"provisional":\[100,183\]' ||
	fail "in-band PROGRESS did not give 183: $out"
ratio=$(json_field "$out" rx_tone_ratio)
awk -v r="$ratio" 'BEGIN { exit !(r > 0.8) }' ||
	fail "early media not heard: $out"
log "ok: PROGRESS with in-band info -> 183 with SDP and early media"

for codec in pcmu pcma; do
	out=$(timeout 20 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" \
		--local "127.0.0.1:$PBX_PORT" --codec "$codec" --tone 1000 \
		--detect 1000 --hold 2000 2>>"$WORK/tgcall.log") ||
		fail "$codec call: $out"
	expect_eq "$codec codec" "$(json_field "$out" codec)" "${codec^^}"
	ratio=$(json_field "$out" rx_tone_ratio)
	awk -v r="$ratio" 'BEGIN { exit !(r > 0.8) }' ||
		fail "$codec: SIP side heard tone ratio $ratio: $out"
	log "ok: $codec: SIP side hears pstnsim's 1 kHz (ratio $ratio)"
done
wait_for "pstnsim call records" 5 pstnsim_calls_ge 3
grep '"event":"call"' "$WORK/pstnsim.jsonl" | grep -v 5551704 | while read -r rec; do
	ratio=$(json_field "$rec" rx_tone_ratio)
	awk -v r="$ratio" 'BEGIN { exit !(r > 0.8) }' ||
		fail "pstnsim heard tone ratio $ratio: $rec"
	log "ok: pstnsim hears the SIP side's 1 kHz (ratio $ratio)"
done

# PSTN -> SIP direction: pstnsim calls a DID, tgcall answers as the PBX.
kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
answer_pbx "$WORK/answer.json" --tone 1000 --detect 1000 --timeout 30
start_pstnsim --media tone:1000 --detect 1000 --originate 1 --rate 1 \
	--to 5550142 --from 2125559999 --hold 2000 --exit-when-done
wait_for "the inbound call" 30 sh -c "! kill -0 $PSTN_PID"
wait "$ANS_PID" || fail "tgcall answer failed: $(cat "$WORK/answer.json")"
out=$(cat "$WORK/answer.json")
ratio=$(json_field "$out" rx_tone_ratio)
awk -v r="$ratio" 'BEGIN { exit !(r > 0.8) }' ||
	fail "PBX side heard tone ratio $ratio: $out"
expect_eq "DID delivered as the Request-URI user" "$(json_field "$out" to_user)" 5550142
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl")
ratio=$(json_field "$rec" rx_tone_ratio)
awk -v r="$ratio" 'BEGIN { exit !(r > 0.8) }' ||
	fail "pstnsim heard tone ratio $ratio on its own call: $rec"
log "ok: inbound call carries 1 kHz both ways"
