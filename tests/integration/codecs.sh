#!/usr/bin/env bash
# tests/integration/codecs.sh  G.722 and G.729 on the SIP side, transcoded
# to the T1's mu-law: calls with each codec at ptime 30 and 40 (tgcall, and
# baresip for G.722) carry a 1 kHz tone both ways (heard at pstnsim and at
# the phone); the trunk's own codec list and ptime go into the gateway's
# offer (PSTN -> SIP); SIP -> SIP calls transcode when the legs share no
# codec and relay when they do; the CDR names the codec; tshark sees
# payload types 9 and 18 in packets of the negotiated length coming from
# the gateway.
. "$(dirname "$0")/lib.sh"

# [sip]: G.722 first.  The PBX trunk (127.0.0.1) takes G.729 or PCMU, in
# 40 ms packets; phones on 127.0.0.2 are a trunk of [sip]'s codecs.
EXTRA=$(printf '[trunk phones]\ntype = sip\npeer = 127.0.0.2:%s\naccept_from = 127.0.0.2\n' \
	"$CLI_PORT")
CODECS="g722, g729, pcmu, pcma" write_conf
sed -i '/^\[trunk pbx\]/a codecs = g729, pcmu\nptime = 40' "$WORK/tollgate.conf"
start_pstnsim --media tone:1000 --detect 1000
start_gw

have_tshark=false
start_capture "$WORK/cap.pcapng" && have_tshark=true

# tgcall offers one codec with its a=ptime; the gateway answers it (the
# trunk lists G.729 and PCMU, [sip] the rest: a call from the PBX's source
# is answered from the trunk's list, so G.722 from it would get 488).
call_with() { # CODEC PTIME NUMBER
	timeout 25 "$TGCALL" call "sip:$3@127.0.0.1:$SIP_PORT" \
		--local "127.0.0.1:$PBX_PORT" --codec "$1" --ptime "$2" \
		--tone 1000 --detect 1000 --hold 2500 2>>"$WORK/tgcall.log"
}
out=$(call_with g729 40 2125551234) || fail "G.729 call: $out"
expect_eq "G.729 call codec" "$(json_field "$out" codec)" G729
ratio=$(json_field "$out" rx_tone_ratio)
awk -v r="$ratio" 'BEGIN { exit !(r > 0.7) }' ||
	fail "G.729: the phone heard pstnsim's tone at ratio $ratio: $out"
log "ok: G.729 ptime 40: the phone hears pstnsim's 1 kHz (ratio $ratio)"

out=$(call_with g722 30 2125551235) && fail "G.722 from the PBX trunk answered: $out"
log "ok: G.722 from a trunk whose codecs are g729, pcmu is refused"

wait_for "pstnsim record of the G.729 call" 10 pstnsim_calls_ge 1
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | grep 2125551234 | head -1)
ratio=$(json_field "$rec" rx_tone_ratio)
awk -v r="$ratio" 'BEGIN { exit !(r > 0.7) }' ||
	fail "pstnsim heard the G.729 phone at ratio $ratio: $rec"
log "ok: pstnsim hears the G.729 phone's 1 kHz (ratio $ratio)"

# G.722 from the phones trunk ([sip]'s list): baresip (its own G.722 at
# 16 kHz) when installed, and tgcall.
g722_calls=0
if command -v baresip >/dev/null && [ -e /usr/lib/baresip/modules/g722.so ]; then
	BS=$WORK/baresip
	baresip_setup "$BS" "$CLI_PORT" 1000 10 127.0.0.2 g722.so 16000
	echo "<sip:2125550000@127.0.0.2>;regint=0;audio_codecs=G722/16000/1;ptime=30" \
		> "$BS/accounts"
	timeout 25 baresip -f "$BS" -e "/dial sip:2125551236@127.0.0.1:$SIP_PORT" -t 8 \
		> "$WORK/baresip.log" 2>&1 || true
	wait_for "pstnsim record of the baresip call" 10 sh -c \
		"grep '\"event\":\"call\"' '$WORK/pstnsim.jsonl' | grep -q 2125551236"
	rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | grep 2125551236 | head -1)
	expect_eq "baresip G.722 call answered at pstnsim" "$(json_field "$rec" answered)" true
	ratio=$(json_field "$rec" rx_tone_ratio)
	awk -v r="$ratio" 'BEGIN { exit !(r > 0.7) }' ||
		fail "pstnsim heard baresip's G.722 tone at ratio $ratio: $rec"
	log "ok: baresip G.722 ptime 30: pstnsim hears its 1 kHz (ratio $ratio)"
	g722_calls=1
fi
out=$(timeout 25 "$TGCALL" call "sip:2125551237@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.2:$CLI_PORT" --codec g722 --ptime 30 --tone 1000 \
	--detect 1000 --hold 2500 2>>"$WORK/tgcall.log") || fail "G.722 call: $out"
expect_eq "G.722 call codec" "$(json_field "$out" codec)" G722
ratio=$(json_field "$out" rx_tone_ratio)
awk -v r="$ratio" 'BEGIN { exit !(r > 0.7) }' ||
	fail "G.722: the phone heard pstnsim's tone at ratio $ratio: $out"
wait_for "pstnsim record of the G.722 call" 10 sh -c \
	"grep '\"event\":\"call\"' '$WORK/pstnsim.jsonl' | grep -q 2125551237"
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | grep 2125551237 | head -1)
ratio2=$(json_field "$rec" rx_tone_ratio)
awk -v r="$ratio2" 'BEGIN { exit !(r > 0.7) }' ||
	fail "pstnsim heard the G.722 phone at ratio $ratio2: $rec"
log "ok: G.722 ptime 30 both ways (phone $ratio, pstnsim $ratio2)"

# SIP -> SIP (a phone calls a DID of the PBX trunk): G.722 on one leg and
# PCMU on the other (the trunk has no G.722): the relay transcodes; G.729
# on both: it relays.  Each end hears the other's tone.
sip_to_sip() { # CALLER-CODEC CALLEE-CODEC DID
	answer_pbx "$WORK/s2s.json" --codec "$2" --tone 600 --detect 1000 \
		--timeout 20
	sleep 0.3
	out=$(timeout 25 "$TGCALL" call "sip:$3@127.0.0.1:$SIP_PORT" \
		--local "127.0.0.2:$CLI_PORT" --codec "$1" --tone 1000 \
		--detect 600 --hold 2500 2>>"$WORK/tgcall.log") ||
		fail "SIP -> SIP $1 -> $2: $out"
	wait "$ANS_PID" || fail "SIP -> SIP answer: $(cat "$WORK/s2s.json")"
	expect_eq "caller's codec" "$(json_field "$out" codec)" "${1^^}"
	expect_eq "callee's codec" "$(json_field "$(cat "$WORK/s2s.json")" codec)" "${2^^}"
	for r in "$(json_field "$out" rx_tone_ratio)" \
		 "$(json_field "$(cat "$WORK/s2s.json")" rx_tone_ratio)"; do
		awk -v r="$r" 'BEGIN { exit !(r > 0.7) }' ||
			fail "SIP -> SIP $1 -> $2: tone ratio $r"
	done
	log "ok: SIP -> SIP $1 -> $2: both tones across"
}
sip_to_sip g722 pcmu 5550150
sip_to_sip g729 g729 5550151

# PSTN -> SIP: the offer to the PBX trunk lists its codecs in its order,
# with its ptime; the phone takes G.729 and hears the tone.
kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
answer_pbx "$WORK/answer.json" --codec g729 --ptime 20 --tone 1000 \
	--detect 1000 --timeout 30 --save-invite "$WORK/invite.txt"
start_pstnsim --media tone:1000 --detect 1000 --originate 1 --rate 1 \
	--to 5550142 --from 2125559999 --hold 2500 --exit-when-done
wait_for "the inbound call" 30 sh -c "! kill -0 $PSTN_PID"
wait "$ANS_PID" || fail "tgcall answer failed: $(cat "$WORK/answer.json")"
grep -q "^m=audio [0-9]* RTP/AVP 18 0" "$WORK/invite.txt" ||
	fail "offer to the PBX trunk: $(grep '^m=' "$WORK/invite.txt")"
grep -q "^a=fmtp:18 annexb=no" "$WORK/invite.txt" || fail "no annexb=no in the offer"
grep -q "^a=ptime:40" "$WORK/invite.txt" || fail "the trunk's ptime is not offered"
out=$(cat "$WORK/answer.json")
expect_eq "inbound call codec" "$(json_field "$out" codec)" G729
ratio=$(json_field "$out" rx_tone_ratio)
awk -v r="$ratio" 'BEGIN { exit !(r > 0.7) }' ||
	fail "PBX side heard tone ratio $ratio: $out"
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl")
ratio2=$(json_field "$rec" rx_tone_ratio)
awk -v r="$ratio2" 'BEGIN { exit !(r > 0.7) }' ||
	fail "pstnsim heard tone ratio $ratio2 on its own call: $rec"
log "ok: PSTN -> SIP offers the trunk's g729, pcmu at ptime 40; G.729 both ways ($ratio, $ratio2)"

answered() { [ "$(sql "SELECT count(*) FROM cdr WHERE disposition = 'ANSWERED'")" -ge "$1" ]; }
wait_for "the answered calls' CDRs" 10 answered $((5 + g722_calls))
expect_eq "CDR codecs" "$(sql "SELECT group_concat(codec, ',') FROM (SELECT codec
	FROM cdr WHERE disposition = 'ANSWERED' ORDER BY codec)")" \
	"$( [ "$g722_calls" = 1 ] && echo G722,G722,G722,G729,G729,G729 ||
	    echo G722,G722,G729,G729,G729)"

if $have_tshark; then
	sleep 1
	kill -INT "$TSHARK"
	wait "$TSHARK" || true
	from_gw() { # PT PAYLOAD-OCTETS
		tshark -r "$WORK/cap.pcapng" -o rtp.heuristic_rtp:TRUE \
			-Y "rtp && rtp.p_type == $1 && udp.length == $((8 + 12 + $2)) && \
			udp.srcport >= $RTP_MIN && udp.srcport <= $RTP_MAX" 2>/dev/null | wc -l
	}
	# 2.5 s at 40 ms, 30 ms: G.729 40 octets, G.722 240 (8000 a second).
	n729=$(from_gw 18 40)
	n722=$(from_gw 9 240)
	[ "$n729" -ge 40 ] || fail "only $n729 G.729 40 ms packets from tollgated decoded"
	[ "$n722" -ge 50 ] || fail "only $n722 G.722 30 ms packets from tollgated decoded"
	bad=$(tshark -r "$WORK/cap.pcapng" -o rtp.heuristic_rtp:TRUE \
		-Y "rtp && (_ws.malformed || _ws.expert.severity == error)" 2>/dev/null | wc -l)
	expect_eq "malformed RTP" "$bad" 0
	log "ok: tshark: $n729 G.729 (PT 18, 40 ms) and $n722 G.722 (PT 9, 30 ms) packets from tollgated"
fi
