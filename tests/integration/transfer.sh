#!/usr/bin/env bash
# tests/integration/transfer.sh  Blind transfer (RFC 3515) from the SIP
# side: a PSTN caller reaches the PBX (SIPp), which REFERs the caller to
# another PSTN number.  The gateway answers 202, places the new call,
# reports it with NOTIFY (message/sipfrag) and, once it answers, moves
# the caller to it: the two PSTN parties hear each other's tone.  A
# transfer to a busy number reports 486 and leaves the caller with the
# PBX; a trunk with transfer = no answers REFER with 403.  A target on
# another SIP trunk (a mobile behind a provider) gets a B-channel <-> RTP
# bridge to the caller.  A PSTN party the PBX called is moved the same
# way.  The moved party's B-channel still counts for its trunk: with
# max_calls = 2 on the PRI, a third call while caller and target talk
# finds it full.
. "$(dirname "$0")/lib.sh"

EXTRA="
[trunk mobile]
type = sip
peer = 127.0.0.1:$CLI_PORT
options_interval = 0
"
write_conf
sed -i '/^\[trunk pstn\]/a max_calls = 2' "$WORK/tollgate.conf"
start_pstnsim
start_gw
kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true

# run_pbx TARGET: the PBX answers one call and transfers it to TARGET.
run_pbx() {
	printf 'SEQUENTIAL\n%s;127.0.0.1:%s;\n' "$1" "$SIP_PORT" > "$WORK/target.csv"
	sipp -sf "$SIPP_DIR/uas_refer.xml" -inf "$WORK/target.csv" \
		-i 127.0.0.1 -p "$PBX_PORT" -m 1 -nostdin -bg \
		-trace_logs -log_file "$WORK/sipp_$1.log" \
		-trace_err -error_file "$WORK/sipp_$1_err.log" \
		-trace_msg -message_file "$WORK/sipp_$1_msg.log" \
		> "$WORK/sipp_$1.out" 2>&1 || true
	SIPP_PID=$(grep -o 'PID=\[[0-9]*\]' "$WORK/sipp_$1.out" | tr -dc 0-9)
	[ -n "$SIPP_PID" ] || fail "sipp did not start: $(cat "$WORK/sipp_$1.out")"
	PIDS+=("$SIPP_PID")
}

# 1. Transfer to 5551234, which answers: the caller talks to it.
run_pbx 5551234
start_pstnsim --media tone:1000 --detect 1000 --originate 1 --rate 1 \
	--to 5550100 --from 2125559999 --hold 6000 --duration 9
wait_for "the transfer" 20 grep -q "transferred to 5551234" "$WORK/tollgated.log"
out=$(timeout 10 "$TGCALL" call "sip:2125557777@127.0.0.1:$SIP_PORT" \
	--local 127.0.0.1:5095 --expect 503 --hold 100 2>>"$WORK/tgcall.log") ||
	fail "a third call while the transferred one talks: $out"
third() { sql "SELECT a.outcome FROM cdr_attempt a JOIN cdr c
	ON a.cdr_id = c.id WHERE c.called = '2125557777'"; }
have_third() { [ -n "$(third)" ]; }
wait_for "the third call's CDR" 10 have_third
expect_eq "the third call's attempt" "$(third)" "skipped: full"
log "ok: the moved caller's B-channel still counts: max_calls = 2 is full"
wait_for "the transferred call to end" 30 sh -c "! kill -0 $PSTN_PID"
wait_for "SIPp to finish" 10 sh -c "! kill -0 $SIPP_PID"
grep -q 'transfer result: SIP/2.0 200' "$WORK/sipp_5551234.log" ||
	fail "the PBX did not get NOTIFY 200: $(cat "$WORK/sipp_5551234.log")"
log "ok: REFER 202, NOTIFY 100 ... 200 (message/sipfrag)"
orig=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | grep '"called":"5550100"')
new=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | grep '"called":"5551234"')
[ -n "$new" ] || fail "no call to 5551234 reached the PSTN"
expect_eq "transfer target answered" "$(json_field "$new" answered)" true
expect_eq "the transferred call shows the caller" \
	"$(json_field "$new" calling)" 2125559999
# The caller heard nothing from the PBX (no RTP), then the target's tone
# for most of its 6 s; the target heard the caller throughout.
awk -v r="$(json_field "$new" rx_tone_ratio)" 'BEGIN { exit !(r > 0.8) }' ||
	fail "the transfer target did not hear the caller: $new"
awk -v r="$(json_field "$orig" rx_tone_ratio)" 'BEGIN { exit !(r > 0.4) }' ||
	fail "the caller did not hear the transfer target: $orig"
log "ok: caller and transfer target hear each other"
# The caller hangs up after its 6 s: the gateway clears the target.
expect_eq "the target was cleared by the gateway" \
	"$(json_field "$new" cleared_by)" remote
gap=$(( $(json_field "$new" end_ms) - $(json_field "$orig" end_ms) ))
[ "$gap" -ge 0 ] && [ "$gap" -lt 1000 ] ||
	fail "the target was cleared ${gap} ms after the caller hung up"
wait_cdrs 2
expect_eq "the PBX's call CDR" "$(sql "SELECT disposition || ',' || in_trunk
	|| ',' || out_trunk || ',' || q850_cause FROM cdr
	WHERE called = '5550100'")" "ANSWERED,pstn,pbx,16"
expect_eq "the transferred call's CDR" "$(sql "SELECT disposition || ',' ||
	direction || ',' || calling || ',' || in_trunk || ',' || out_trunk ||
	',' || span FROM cdr WHERE called = '5551234'")" \
	"ANSWERED,inbound,2125559999,pstn,pstn,1"
expect_eq "the CDRs are linked" "$(sql "SELECT x.transfer_to || ',' ||
	(y.transfer_ref = x.id) FROM cdr x, cdr y WHERE x.called = '5550100'
	AND y.called = '5551234'")" "5551234,1"
grep -q 'transferred to 5551234' "$WORK/tollgated.log" ||
	fail "no transfer line in the log"

# 2. Transfer to a busy number: NOTIFY 486; the PBX hangs up after it.
run_pbx 5551700
start_pstnsim --rule 5551700=busy --originate 1 --rate 1 --to 5550101 \
	--from 2125559998 --hold 8000 --exit-when-done
wait_for "SIPp to finish" 20 sh -c "! kill -0 $SIPP_PID"
grep -q 'transfer result: SIP/2.0 486' "$WORK/sipp_5551700.log" ||
	fail "a busy target did not give NOTIFY 486: $(cat "$WORK/sipp_5551700.log")"
log "ok: transfer to a busy number: NOTIFY 486"
wait_for "the caller's call to end" 20 sh -c "! kill -0 $PSTN_PID"
orig=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | grep '"called":"5550101"')
expect_eq "the caller stayed with the PBX, then its BYE cleared it" \
	"$(json_field "$orig" cleared_by)" remote
wait_cdrs 4
expect_eq "failed transfer attempt CDR" "$(sql "SELECT y.disposition || ',' ||
	y.q850_cause || ',' || (y.transfer_ref = x.id) || ',' ||
	ifnull(x.transfer_to, 'none') FROM cdr x, cdr y WHERE y.called = '5551700'
	AND x.called = '5550101'")" "BUSY,17,1,none"

# 2b. Transfer to a number on another SIP trunk: the caller's B-channel
# is bridged to the new SIP call.
"$TGCTL" -s "$CTL" --db "$DB" route add mob priority=1 kind=prefix \
	match=5559 trunks=mobile >/dev/null || fail "route add"
wait_for "the route" 10 sh -c "'$TGCTL' -s '$CTL' route explain 5559001 --from pbx | grep -q mob"
"$TGCALL" answer --local "127.0.0.1:$CLI_PORT" --count 1 --timeout 30 \
	--tone 1000 --detect 1000 > "$WORK/mobile.json" 2>>"$WORK/tgcall.log" &
MOBILE=$!
PIDS+=("$MOBILE")
run_pbx 5559001
start_pstnsim --media tone:1000 --detect 1000 --originate 1 --rate 1 \
	--to 5550103 --from 2125559996 --hold 5000 --exit-when-done
wait_for "SIPp to finish" 20 sh -c "! kill -0 $SIPP_PID"
grep -q 'transfer result: SIP/2.0 200' "$WORK/sipp_5559001.log" ||
	fail "the SIP target's transfer: $(cat "$WORK/sipp_5559001.log")"
wait_for "the caller's call to end" 20 sh -c "! kill -0 $PSTN_PID"
wait "$MOBILE" || fail "the mobile's call: $(cat "$WORK/mobile.json")"
out=$(cat "$WORK/mobile.json")
expect_eq "the mobile sees the caller" "$(json_field "$out" from_user)" 2125559996
awk -v r="$(json_field "$out" rx_tone_ratio)" 'BEGIN { exit !(r > 0.8) }' ||
	fail "the mobile did not hear the caller: $out"
orig=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | grep '"called":"5550103"')
awk -v r="$(json_field "$orig" rx_tone_ratio)" 'BEGIN { exit !(r > 0.4) }' ||
	fail "the caller did not hear the mobile: $orig"
log "ok: transfer to a SIP trunk: B-channel <-> RTP, audio both ways"

# 2c. The PBX called the PSTN party, then transfers it: the called party
# is the one moved.
printf 'SEQUENTIAL\n5551235;127.0.0.1:%s;\n' "$SIP_PORT" > "$WORK/target.csv"
kill -TERM "$PSTN_PID" 2>/dev/null || true; wait "$PSTN_PID" 2>/dev/null || true
start_pstnsim --media tone:1000 --detect 1000 --hangup-after 6000
wait_for "the span" 20 span_up
n0=$(grep -c '"event":"call"' "$WORK/pstnsim.jsonl" || true)
timeout 30 sipp -sf "$SIPP_DIR/uac_refer.xml" -inf "$WORK/target.csv" \
	-s 2125551234 -i 127.0.0.1 -p "$PBX_PORT" -m 1 -nostdin \
	-trace_logs -log_file "$WORK/sipp_uac.log" \
	-trace_msg -message_file "$WORK/sipp_uac_msg.log" \
	"127.0.0.1:$SIP_PORT" > "$WORK/sipp_uac.out" 2>&1 ||
	fail "the PBX's call and transfer: $(tail -5 "$WORK/sipp_uac.out")"
grep -q 'transfer result: SIP/2.0 200' "$WORK/sipp_uac.log" ||
	fail "no NOTIFY 200 for the called party's transfer"
wait_for "both calls to end" 20 sh -c "[ \$(grep -c '\"event\":\"call\"' '$WORK/pstnsim.jsonl') -ge $((n0 + 2)) ]"
b=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | grep '"called":"2125551234"')
c=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | grep '"called":"5551235"')
expect_eq "the new call shows the moved party" "$(json_field "$c" calling)" 2125551234
awk -v r="$(json_field "$c" rx_tone_ratio)" 'BEGIN { exit !(r > 0.8) }' ||
	fail "the target did not hear the moved party: $c"
awk -v r="$(json_field "$b" rx_tone_ratio)" 'BEGIN { exit !(r > 0.4) }' ||
	fail "the moved party did not hear the target: $b"
log "ok: a called PSTN party is transferred too"
kill -TERM "$PSTN_PID" 2>/dev/null || true; wait "$PSTN_PID" 2>/dev/null || true

# 3. transfer = no: REFER is refused with 403, the call goes on.
sed -i '/^\[trunk pbx\]/a transfer = no' "$WORK/tollgate.conf"
ctl reload >/dev/null || fail "reload failed"
run_pbx 5551234
start_pstnsim --originate 1 --rate 1 --to 5550102 --from 2125559997 \
	--hold 3000 --exit-when-done
wait_for "SIPp to finish" 20 sh -c "! kill -0 $SIPP_PID"
grep -q '403 Transfers Not Allowed' "$WORK/sipp_5551234_err.log" \
	"$WORK/sipp_5551234.log" 2>/dev/null ||
	fail "REFER on a trunk with transfer = no was not refused with 403"
log "ok: transfer = no: REFER gets 403"
