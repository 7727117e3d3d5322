#!/usr/bin/env bash
# tests/integration/audio_e1.sh  An E1 span (30 B-channels, A-law,
# EuroISDN): calls connect and a 1 kHz tone crosses both ways with PCMA
# (native) and PCMU (converted) on the SIP side; all 30 channels are there.
SPAN_TYPE=e1 SWITCH=euroisdn_e1
export SPAN_TYPE SWITCH
. "$(dirname "$0")/lib.sh"

write_conf
start_pstnsim --media tone:1000 --detect 1000
start_gw
ctl show spans | grep -Eq '^1 +E1 +euroisdn_e1 +cpe +up +up +30 +0 +0 +0 +in-service$' ||
	fail "show spans: $(ctl show spans)"
log "ok: E1 span up with 30 idle channels"

for codec in pcma pcmu; do
	out=$(timeout 20 "$TGCALL" call "sip:4930123456@127.0.0.1:$SIP_PORT" \
		--local "127.0.0.1:$PBX_PORT" --codec "$codec" --tone 1000 \
		--detect 1000 --hold 1500 2>>"$WORK/tgcall.log") ||
		fail "$codec call: $out"
	ratio=$(json_field "$out" rx_tone_ratio)
	awk -v r="$ratio" 'BEGIN { exit !(r > 0.8) }' ||
		fail "$codec: SIP side heard ratio $ratio: $out"
	log "ok: E1, $codec: SIP side hears pstnsim's 1 kHz (ratio $ratio)"
done
wait_for "pstnsim call records" 5 pstnsim_calls_ge 2
grep '"event":"call"' "$WORK/pstnsim.jsonl" | while read -r rec; do
	ratio=$(json_field "$rec" rx_tone_ratio)
	awk -v r="$ratio" 'BEGIN { exit !(r > 0.8) }' ||
		fail "pstnsim heard ratio $ratio: $rec"
done
log "ok: E1: pstnsim hears the SIP side's 1 kHz on both calls"
