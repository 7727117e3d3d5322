#!/usr/bin/env bash
# tests/integration/chansel.sh  Exclusive and preferred B-channel selection
# ([span] channel_select, Q.931 5.2.3.1).
#
#  1. channel_select = preferred, and a network that answers a preferred
#     SETUP on its highest free channel (pstnsim --pick-channel high): our
#     hunt offers channel 1, the call moves to 23. The SIP caller's 1 kHz
#     tone comes back through pstnsim's echo, so audio is on channel 23;
#     `show channels` has the call on 23 and channel 1 idle; the CDR says 23.
#  2. Incoming: two SETUPs from the network both prefer channel 5; the first
#     gets 5, the second, with 5 busy here, another idle channel (1).
#  3. The same with channel 5 exclusive: the second is refused, cause 44.
#  4. channel_select = exclusive by reload: the SETUP names channel 1
#     exclusively, so the network cannot move it (pstnsim's record: 1).
. "$(dirname "$0")/lib.sh"

write_conf
sed -i "/^\[span 1\]/a channel_select = preferred" "$WORK/tollgate.conf"
start_pstnsim --pick-channel high --media echo --answer-after 100
start_gw
expect_eq "channel_select in show spans" \
	"$(json_field "$(ctl --json show spans)" channel_select)" preferred

chan_row() { # CHAN: its row in show channels --json
	ctl --json show channels 1 | tr '}' '\n' | grep "\"chan\":$1,"
}

# 1. Outbound, preferred: the network moves the call.
timeout 30 "$TGCALL" call "sip:2125551001@127.0.0.1:$SIP_PORT" \
	--local 127.0.0.1 --from 2125550000 --tone 1000 --detect 1000 \
	--hold 3000 > "$WORK/c1.json" 2>>"$WORK/tgcall.log" &
C1=$!
PIDS+=("$C1")
wait_for "the call up on channel 23" 10 sh -c "'$TGCTL' -s '$CTL' --json show channels 1 | tr '}' '\n' | grep '\"chan\":23,' | grep -q '\"state\":\"in-use\".*\"called\":\"2125551001\"'"
chan_row 1 | grep -q '"state":"idle"' || fail "channel 1 not idle: $(chan_row 1)"
chan_row 1 | grep -q '"call"' && fail "channel 1 still has the call: $(chan_row 1)"
grep -q "span 1: call moved from channel 1 to 23 by the far end" "$WORK/tollgated.log" ||
	fail "no log line for the move"
wait "$C1" || fail "the preferred call: $(cat "$WORK/c1.json")"
ratio=$(json_field "$(cat "$WORK/c1.json")" rx_tone_ratio)
awk -v r="$ratio" 'BEGIN { exit !(r > 0.8) }' ||
	fail "the caller's tone did not come back through channel 23 (ratio $ratio): $(cat "$WORK/c1.json")"
log "ok: the moved call's audio is on channel 23 (echoed tone ratio $ratio)"
wait_cdrs 1
expect_eq "CDR channel" "$(sql "SELECT chan FROM cdr WHERE called = '2125551001'")" 23
wait_for "pstnsim's record" 5 pstnsim_calls_ge 1
expect_eq "pstnsim's channel" "$(json_field "$(grep '"event":"call"' "$WORK/pstnsim.jsonl")" chan)" 23

# 2. and 3. Incoming SETUPs naming channel 5, preferred then exclusive.
"$TGCALL" answer --local "127.0.0.1:$PBX_PORT" --count 3 --timeout 30 \
	--hold 2500 > "$WORK/answer.jsonl" 2>>"$WORK/tgcall.log" &
PIDS+=($!)
incoming() { # ARGS: a pstnsim placing two calls to a DID on channel 5
	kill -TERM "$PSTN_PID" 2>/dev/null || true; wait "$PSTN_PID" 2>/dev/null || true
	start_pstnsim --originate 2 --rate 2 --to 5550100 --from 2125559999 \
		--orig-chan 5 --hold 1500 --exit-when-done "$@"
	wait_for "pstnsim to finish its calls" 20 sh -c "! kill -0 $PSTN_PID"
	grep '"event":"call"' "$WORK/pstnsim.jsonl" > "$WORK/in.jsonl"
}
incoming --orig-preferred
expect_eq "preferred: calls answered" "$(grep -c '"answered":true' "$WORK/in.jsonl")" 2
expect_eq "preferred: channels used" \
	"$(sed -n 's/.*"chan":\([0-9]*\).*/\1/p' "$WORK/in.jsonl" | sort -n | tr '\n' ' ')" "1 5 "
log "ok: a preferred channel busy here: the call got another one"

incoming
expect_eq "exclusive: calls answered" "$(grep -c '"answered":true' "$WORK/in.jsonl")" 1
expect_eq "exclusive: the refused call's cause" \
	"$(grep '"answered":false' "$WORK/in.jsonl" | sed -n 's/.*"cause":\([0-9]*\).*/\1/p')" 44
grep -q "SETUP for 5550100 on channel 5 refused: in-use" "$WORK/tollgated.log" ||
	fail "no log line for the refusal"
log "ok: an exclusive channel busy here: cause 44"

# 4. Back to exclusive: the network may not move the call.
kill -TERM "$PSTN_PID" 2>/dev/null || true; wait "$PSTN_PID" 2>/dev/null || true
start_pstnsim --pick-channel high --answer-after 100
sed -i "s/^channel_select = preferred/channel_select = exclusive/" "$WORK/tollgate.conf"
ctl reload >/dev/null || fail "reload"
wait_for "the span back up" 10 sh -c "'$TGCTL' -s '$CTL' --json show spans | grep -q '\"dchan\":\"up\".*\"idle\":23.*\"channel_select\":\"exclusive\"'"
n0=$(grep -c '"event":"call"' "$WORK/pstnsim.jsonl" || true)
out=$(timeout 20 "$TGCALL" call "sip:2125551002@127.0.0.1:$SIP_PORT" \
	--local 127.0.0.1 --from 2125550000 --hold 300 --tone 0 \
	2>>"$WORK/tgcall.log") || fail "the exclusive call: $out"
wait_for "pstnsim's record" 5 pstnsim_calls_ge $((n0 + 1))
expect_eq "exclusive: pstnsim's channel" \
	"$(json_field "$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1)" chan)" 1
wait_for "every channel idle" 5 sh -c "'$TGCTL' -s '$CTL' --json show spans | grep -q '\"idle\":23'"
