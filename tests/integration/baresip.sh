#!/usr/bin/env bash
# tests/integration/baresip.sh  (g) A real softphone (baresip, headless)
# calls through the gateway to pstnsim; the call connects and its audio (a
# 1 kHz tone from a WAV file) is heard at pstnsim.
. "$(dirname "$0")/lib.sh"
command -v baresip >/dev/null || { log "SKIP: baresip not installed"; exit 77; }

write_conf
start_pstnsim --media tone:1000 --detect 1000 --hangup-after 3000
start_gw

BS=$WORK/baresip
baresip_setup "$BS" "$CLI_PORT" 1000 10
echo "<sip:2125550000@127.0.0.1>;regint=0;audio_codecs=PCMU" > "$BS/accounts"

timeout 25 baresip -f "$BS" -e "/dial sip:2125551234@127.0.0.1:$SIP_PORT" -t 8 \
	> "$WORK/baresip.log" 2>&1 || true
wait_for "pstnsim record of the baresip call" 10 grep -q '"event":"call"' "$WORK/pstnsim.jsonl"
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | head -1)
expect_eq "baresip call answered at pstnsim" "$(json_field "$rec" answered)" true
expect_eq "called number" "$(json_field "$rec" called)" 2125551234
ratio=$(json_field "$rec" rx_tone_ratio)
awk -v r="$ratio" 'BEGIN { exit !(r > 0.8) }' ||
	fail "pstnsim heard baresip's tone at ratio $ratio"
log "ok: pstnsim heard baresip's 1 kHz (ratio $ratio)"
wait_cdrs 1
expect_eq "CDR" "$(sql "SELECT disposition || ',' || called FROM cdr")" "ANSWERED,2125551234"
