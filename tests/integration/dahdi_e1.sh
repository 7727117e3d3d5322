#!/usr/bin/env bash
# tests/integration/dahdi_e1.sh  The dahdi backend on an emulated DAHDI E1
# span (tests/tools/dahdi_emu.so, see dahdi.sh): a span configured as T1 on
# DAHDI's E1 is refused with the reason in the log; as E1 it comes up on
# channels 1-31 with the D-channel on timeslot 16, and a call on bearer 16
# (timeslot 17, past the D-channel) carries A-law tone both ways.
SPAN_TYPE=e1 SWITCH=euroisdn_e1
export SPAN_TYPE SWITCH
. "$(dirname "$0")/lib.sh"

EMU=$BUILD/tests/tools/dahdi_emu.so
if [ ! -f "$EMU" ]; then
	log "SKIP: built without DAHDI headers (no dahdi backend, no emulator)"
	exit 77
fi
PRELOAD=$EMU
# (ldd's output in full first: grep -q closing the pipe early would fail
# the pipeline under pipefail now and then.)
asan=$(ldd "$TOLLGATED" | awk '/libasan\.so/ { print $3 }')
if [ -n "$asan" ]; then
	PRELOAD=$asan:$EMU
fi
export TG_DAHDI_EMU_DIR=$RUN TG_DAHDI_EMU_SPANS=e1

start_pstnsim --media tone:1000 --detect 1000

# type = t1 on DAHDI's E1 span: not brought up, and the log says why.
SPAN_TYPE=t1 SWITCH=ni2 write_conf
sed -i 's|^dir = .*|backend = dahdi|' "$WORK/tollgate.conf"
LD_PRELOAD=$PRELOAD "$TOLLGATED" -c "$WORK/tollgate.conf" \
	2> "$WORK/tollgated-t1.log" &
T1_PID=$!
PIDS+=("$T1_PID")
wait_for "the type mismatch to be logged" 5 \
	grep -q 'span 1: DAHDI span 1: 31 channels, a T1 span has 24' \
	"$WORK/tollgated-t1.log"
expect_eq "mismatched span" \
	"$(ctl --json show spans | grep -o '"link":"[a-z]*"')" '"link":"down"'
kill -TERM "$T1_PID"; wait "$T1_PID" 2>/dev/null || true
log "ok: a T1 span on DAHDI's E1 is refused"

write_conf
sed -i 's|^dir = .*|backend = dahdi|' "$WORK/tollgate.conf"
LD_PRELOAD=$PRELOAD start_gw
ctl show spans | grep -Eq '^1 +E1 +euroisdn_e1 +cpe +up +up +30 +0 +0 +0 +in-service$' ||
	fail "show spans: $(ctl show spans)"
grep -q 'span 1: DAHDI span 1 up (channels 1-31, D-channel 16)' \
	"$WORK/tollgated.log" || fail "E1 channels: $(grep DAHDI "$WORK/tollgated.log")"
log "ok: E1 span up on DAHDI channels 1-31, D-channel 16"

# Bearers 1-15 blocked: the call takes bearer 16, DAHDI channel 17.
for c in $(seq 1 15); do
	ctl channel block "1/$c" >/dev/null
done
out=$(timeout 20 "$TGCALL" call "sip:4930123456@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --codec pcma --tone 1000 --detect 1000 \
	--hold 1500 2>>"$WORK/tgcall.log") || fail "E1 call: $out"
ratio=$(json_field "$out" rx_tone_ratio)
awk -v r="$ratio" 'BEGIN { exit !(r > 0.8) }' ||
	fail "SIP side heard ratio $ratio: $out"
# Without gaps: 75 packets of 20 ms in 1.5 s (65 allows for the start).
[ "$(json_field "$out" rtp_rx)" -ge 65 ] || fail "RTP packets lost: $out"
wait_for "pstnsim's call record" 5 pstnsim_calls_ge 1
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl")
expect_eq "pstnsim's bearer" "$(json_field "$rec" chan)" 16
pratio=$(json_field "$rec" rx_tone_ratio)
awk -v r="$pratio" -v l="$(json_field "$rec" rx_level_dbfs)" \
	'BEGIN { exit !(r > 0.8 && l > -15) }' ||
	fail "pstnsim heard ratio $pratio: $rec"
wait_cdrs 1
expect_eq "CDR" "$(sql "SELECT disposition || ',' || span || ',' || chan FROM cdr")" "ANSWERED,1,16"
log "ok: E1 bearer 16 (timeslot 17): 1 kHz heard by SIP ($ratio) and PSTN ($pratio)"
