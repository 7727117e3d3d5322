#!/usr/bin/env bash
# tests/integration/trace.sh  Looking at a span on the running gateway.
#
#  - `debug span 1 q931 on`: libpri's decoded Q.931 of that span appears in
#    the log; `off` stops it.
#  - `trace span 1 FILE.pcap` starts a D-channel capture, `off` ends it;
#    tshark decodes the capture of an answered and a busy call with no
#    malformed packet: every message type of both calls, the numbers, and
#    cause 17 in the busy call's DISCONNECT.
#  - The line goes away: the D-channel loss is an alarm (logged, counted in
#    show spans); when the line is back its idle channels are restarted and
#    calls go through again.
. "$(dirname "$0")/lib.sh"
command -v tshark >/dev/null || { log "SKIP: tshark not installed"; exit 77; }

write_conf
start_pstnsim --rule 5551700=busy
start_gw

call() { # NUMBER EXPECT
	timeout 20 "$TGCALL" call "sip:$1@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
		--from 2125550000 --expect "$2" --hold 300 --tone 0 \
		>/dev/null 2>>"$WORK/tgcall.log" || fail "call to $1 (want $2)"
}
q931_lines() { grep -c 'span 1 q931: ' "$WORK/tollgated.log" || true; }

# Q.931 in the log, on and off.
expect_eq "Q.931 lines before" "$(q931_lines)" 0
out=$(ctl debug span 1 q931 on) || fail "debug on: $out"
call 2125551234 200
grep -q 'span 1 q931: .*SETUP' "$WORK/tollgated.log" ||
	fail "no decoded SETUP in the log"
grep -q 'span 1 q931: .*CONNECT' "$WORK/tollgated.log" ||
	fail "no decoded CONNECT in the log"
ctl debug span 1 q931 off >/dev/null || fail "debug off"
n=$(q931_lines)
call 2125551235 200
expect_eq "Q.931 lines after off" "$(q931_lines)" "$n"
ctl debug span 9 q931 on >/dev/null 2>&1 && fail "debug of a span that is not there"

# A capture started and stopped at run time.
ctl trace span 1 relative.pcap >/dev/null 2>&1 && fail "a relative capture path was taken"
ctl trace span 1 /nonexistent/dir/x.pcap >/dev/null 2>&1 && fail "an unwritable capture path was taken"
out=$(ctl trace span 1 "$WORK/d.pcap") || fail "trace: $out"
# An existing file is not overwritten, and the capture in progress goes on.
touch "$WORK/exists.pcap"
ctl trace span 1 "$WORK/exists.pcap" >/dev/null 2>&1 && fail "trace overwrote an existing file"
call 2125551236 200
call 5551700 486
sleep 0.5
ctl trace span 1 off >/dev/null || fail "trace off"
call 2125551237 200
decode() { tshark -r "$WORK/d.pcap" "$@" 2>/dev/null; }
expect_eq "malformed or erroneous frames" \
	"$(decode -Y '_ws.malformed || _ws.expert.severity == error' | wc -l)" 0
types=$(decode -Y q931 -T fields -e q931.message_type | sort -u | tr '\n' ' ')
for t in 0x05 0x02 0x07 0x0f 0x45 0x4d 0x5a; do
	case " $types" in *" $t "*) ;; *) fail "Q.931 message $t not in the capture: $types" ;; esac
done
called=$(decode -Y 'q931.message_type == 0x05' -T fields \
	-e q931.called_party_number.digits | tr '\n' ' ')
expect_eq "called numbers in the capture" "$called" "2125551236 5551700 "
decode -Y 'q931.message_type == 0x45 && q931.cause_value == 17' | grep -q . ||
	fail "no DISCONNECT with cause 17 in the capture"
decode -Y 'q931.called_party_number.digits == "2125551237"' | grep -q . &&
	fail "a call after 'trace off' is in the capture"
log "ok: Q.931 in the log and in a pcap, switched at run time"

# The line lost and back.
alarms() { ctl --json show spans | sed -n 's/.*"alarms":\([0-9]*\).*/\1/p'; }
expect_eq "alarms before" "$(alarms)" 0
kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
wait_for "the D-channel to go down" 10 sh -c "'$TGCTL' -s '$CTL' --json show spans | grep -q '\"dchan\":\"down\"'"
expect_eq "alarms after the loss" "$(alarms)" 1
grep -q "span 1: D-channel down (alarm 1)" "$WORK/tollgated.log" || fail "no alarm in the log"
timeout 20 "$TGCALL" call "sip:2125551238@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--from 2125550000 --expect 503 >/dev/null 2>>"$WORK/tgcall.log" ||
	fail "a call with the span down was not refused"
start_pstnsim --rule 5551700=busy
wait_for "the span back, its channels restarted" 15 sh -c "[ \$(grep -c '\"event\":\"restart\"' '$WORK/pstnsim.jsonl') -eq 23 ]"
wait_for "23 idle channels" 10 sh -c "'$TGCTL' -s '$CTL' --json show spans | grep -q '\"idle\":23'"
call 2125551239 200
log "ok: a lost line is an alarm; back, it is restarted and carries calls"
