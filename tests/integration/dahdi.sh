#!/usr/bin/env bash
# tests/integration/dahdi.sh  The dahdi backend, on emulated DAHDI: tollgated
# runs with tests/tools/dahdi_emu.so preloaded, which serves /dev/dahdi/ctl
# and /dev/dahdi/channel from pstnsim's spans with the driver's semantics
# (DAHDI_SPECIFY, HDLC-FCS D-channel, 160-octet blocks every 20 ms, alarm
# events).  Two DAHDI T1 spans, crossed: our span 1 is DAHDI span 2
# (channels 25-48), our span 2 is DAHDI span 1.  Asserted: both spans come
# up on the dahdi backend; a SIP->PRI and a PRI->SIP call connect with a
# 1 kHz tone heard each way; CDR rows; pstnsim killed -> red alarm, spans
# down, alarm counted, the live call cleared with cause 38; pstnsim back ->
# spans up by themselves and the next call connects.
. "$(dirname "$0")/lib.sh"

EMU=$BUILD/tests/tools/dahdi_emu.so
if [ ! -f "$EMU" ]; then
	log "SKIP: built without DAHDI headers (no dahdi backend, no emulator)"
	exit 77
fi
# An ASan tollgated carries its runtime in the executable (clang links it
# statically): the emulator, built without sanitizers, is preloaded
# alone; gcc links libasan.so, which must then come first.
PRELOAD=$EMU
# (ldd's output in full first: grep -q closing the pipe early would fail
# the pipeline under pipefail now and then.)
asan=$(ldd "$TOLLGATED" | awk '/libasan\.so/ { print $3 }')
if [ -n "$asan" ]; then
	PRELOAD=$asan:$EMU
fi

SPANS=2 write_conf
sed -i 's|^dir = .*|backend = dahdi|' "$WORK/tollgate.conf"
sed -i '/^\[span 1\]/a dahdi_span = 2' "$WORK/tollgate.conf"
sed -i '/^\[span 2\]/a dahdi_span = 1' "$WORK/tollgate.conf"
# The DAHDI side of a stopped pstnsim keeps nothing: each kill below is
# a line that went dead.
SPANS=2 start_pstnsim --media tone:1000 --detect 1000
SPANS=2 LD_PRELOAD=$PRELOAD TG_DAHDI_EMU_DIR=$RUN TG_DAHDI_EMU_SPANS=t1,t1 \
	start_gw

spans=$(ctl --json show spans)
expect_eq "backends" "$(echo "$spans" | grep -o '"backend":"[a-z]*"' | sort -u)" \
	'"backend":"dahdi"'
expect_eq "line alarms" "$(echo "$spans" | grep -o '"line_alarms":"[a-z,]*"' | sort -u)" \
	'"line_alarms":""'
ctl show spans | grep -q '^span 1: dahdi backend, line alarms: none$' ||
	fail "show spans: $(ctl show spans)"
grep -q 'span 1: DAHDI span 2 up (channels 25-48, D-channel 48)' \
	"$WORK/tollgated.log" || fail "span 1 is not DAHDI span 2's channels"
grep -q 'span 2: DAHDI span 1 up (channels 1-24, D-channel 24)' \
	"$WORK/tollgated.log" || fail "span 2 is not DAHDI span 1's channels"
log "ok: two spans up on the dahdi backend, crossed to DAHDI spans 2 and 1"

# tone_ok WHO JSON: the tone was heard, and without gaps: a 2 s call gives
# 100 packets of 20 ms (90 allows for the start), and the tone's level
# (-13 dBFS as sent) over the whole call: a bearer read at the wrong block
# size or rate would give fewer frames and silence between them.
tone_ok() {
	local who=$1 json=$2 ratio level rtp
	ratio=$(json_field "$json" rx_tone_ratio)
	level=$(json_field "$json" rx_level_dbfs)
	awk -v r="$ratio" -v l="$level" 'BEGIN { exit !(r > 0.8 && l > -15) }' ||
		fail "$who heard tone ratio $ratio at $level dBFS: $json"
	rtp=$(json_field "$json" rtp_rx)
	if [ -n "$rtp" ] && [ "$rtp" -lt 90 ]; then
		fail "$who got $rtp RTP packets in 2 s: $json"
	fi
	echo "$ratio/$level dBFS${rtp:+/$rtp pkts}"
}

# SIP -> PRI: tone both ways.
out=$(timeout 20 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --tone 1000 --detect 1000 --hold 2000 \
	2>>"$WORK/tgcall.log") || fail "SIP->PRI call: $out"
sip=$(tone_ok "the SIP side" "$out")
wait_for "pstnsim's call record" 5 pstnsim_calls_ge 1
pstn=$(tone_ok pstnsim "$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1)")
log "ok: SIP->PRI over DAHDI: 1 kHz heard by SIP ($sip) and PSTN ($pstn)"
wait_cdrs 1
expect_eq "SIP->PRI CDR" "$(sql "SELECT direction || ',' || disposition || ',' || q850_cause || ',' || span FROM cdr")" \
	"outbound,ANSWERED,16,1"

# PRI -> SIP: pstnsim calls a DID on its span 2 (our span 1), tgcall answers.
kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
wait_for "the spans to go down" 5 sh -c "'$TGCTL' -s '$CTL' --json show spans | grep -q '\"dchan\":\"down\"'"
"$TGCALL" answer --local "127.0.0.1:$PBX_PORT" --tone 1000 --detect 1000 \
	--count 1 --timeout 30 > "$WORK/answer.json" 2>>"$WORK/tgcall.log" &
ANS_PID=$!
PIDS+=("$ANS_PID")
SPANS=2 start_pstnsim --media tone:1000 --detect 1000 --originate 1 --rate 1 \
	--to 5550142 --from 2125559999 --hold 2000 --exit-when-done
wait_for "the inbound call" 30 sh -c "! kill -0 $PSTN_PID"
wait "$ANS_PID" || fail "tgcall answer failed: $(cat "$WORK/answer.json")"
sip=$(tone_ok "the SIP side" "$(cat "$WORK/answer.json")")
pstn=$(tone_ok pstnsim "$(grep '"event":"call"' "$WORK/pstnsim.jsonl")")
log "ok: PRI->SIP over DAHDI: 1 kHz heard by SIP ($sip) and PSTN ($pstn)"
wait_cdrs 2
expect_eq "PRI->SIP CDR" "$(sql "SELECT direction || ',' || disposition || ',' || called FROM cdr ORDER BY rowid DESC LIMIT 1")" \
	"inbound,ANSWERED,5550142"

# Line loss: pstnsim (it has exited) back, then killed during a call.
SPANS=2 start_pstnsim --media tone:1000 --detect 1000
wait_for "the spans to come back" 10 sh -c "[ \$('$TGCTL' -s '$CTL' --json show spans | grep -o '\"dchan\":\"up\"' | wc -l) -eq 2 ]"
before=$(ctl --json show spans | grep -o '"alarms":[0-9]*' | head -1 | tr -dc 0-9)
timeout 30 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--hold 20000 --tone 0 > "$WORK/call.json" 2>>"$WORK/tgcall.log" &
CALL=$!
PIDS+=("$CALL")
wait_for "the call to be answered" 10 sh -c "'$TGCTL' -s '$CTL' --json show calls | grep -q '\"answered\":true'"
kill -KILL "$PSTN_PID"
wait_for "the span to go down" 5 sh -c "'$TGCTL' -s '$CTL' --json show spans | grep -q '\"dchan\":\"down\"'"
wait "$CALL" || true
out=$(cat "$WORK/call.json")
expect_eq "call ended by" "$(json_field "$out" bye_by)" remote
expect_eq "BYE Reason cause" "$(json_field "$out" reason_cause)" 38
wait_cdrs 3
expect_eq "CDR" "$(sql "SELECT disposition || ',' || q850_cause FROM cdr ORDER BY rowid DESC LIMIT 1")" "ANSWERED,38"
spans=$(ctl --json show spans)
expect_eq "span 1 alarms counted" \
	"$(echo "$spans" | grep -o '"alarms":[0-9]*' | head -1 | tr -dc 0-9)" $((before + 1))
echo "$spans" | grep -q '"span":1,.*"line_alarms":"red,los"' ||
	fail "red alarm not shown: $spans"
ctl show spans | grep -q '^span 1: dahdi backend, line alarms: red,los$' ||
	fail "show spans: $(ctl show spans)"
grep -q 'span 1: DAHDI span 2 alarm: red,los' "$WORK/tollgated.log" ||
	fail "no DAHDI alarm event logged"
log "ok: line lost -> DAHDI red alarm, call cleared with cause 38, alarm counted"

SPANS=2 start_pstnsim
wait_for "the spans to come back" 10 sh -c "[ \$('$TGCTL' -s '$CTL' --json show spans | grep -o '\"dchan\":\"up\"' | wc -l) -eq 2 ]"
expect_eq "line alarms cleared" \
	"$(ctl --json show spans | grep -o '"line_alarms":"[a-z,]*"' | sort -u)" '"line_alarms":""'
out=$(timeout 20 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" \
	--local 127.0.0.1 --hold 500 2>>"$WORK/tgcall.log") ||
	fail "call after the line returned: $out"
log "ok: alarm cleared, the spans came back and carry calls again"
