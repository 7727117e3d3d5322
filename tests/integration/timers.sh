#!/usr/bin/env bash
# tests/integration/timers.sh  Per-span Q.921/Q.931 timers ([span] t200
# ... t316).
#
#  1. t303 = 500 and a network that never answers the SETUP (pstnsim
#     action ignore): the SETUP goes out twice and the call fails after
#     about 2 x T303 with cause 102 -> SIP 504; the CDR says 102.
#  2. A reload with t303 = 1200 applies in place (the D-channel stays up,
#     no new alarm): the same call now takes about 2.4 s.  A reload with
#     a bad value is refused naming the key, and nothing changes.
#  3. T309 (4 s; t200/t203 short so that the loss is seen in ~2 s): the
#     D-channel is cut mid-call (pstnsim SIGUSR1: frames lost, audio goes
#     on) and mended as soon as the gateway sees it down: the call lives
#     on and ends normally.  Cut again and left cut: T309 clears the call
#     with cause 27, BYE toward the SIP caller with that cause, CDR 27.
. "$(dirname "$0")/lib.sh"

write_conf
sed -i "/^\[span 1\]/a t303 = 500\nt200 = 300\nt203 = 1000\nt309 = 4000" "$WORK/tollgate.conf"
start_pstnsim --rule 2125551999=ignore --answer-after 100
start_gw

spans=$(ctl --json show spans)
expect_eq "t303 in force" "$(json_field "$spans" t303)" 500
expect_eq "t309 in force" "$(json_field "$spans" t309)" 4000
expect_eq "t305 (libpri's default)" "$(json_field "$spans" t305)" 30000

# ignored_call: a call into the void; prints its duration in ms.
ignored_call() {
	local t0 out
	t0=$(date +%s%N)
	out=$(timeout 20 "$TGCALL" call "sip:2125551999@127.0.0.1:$SIP_PORT" \
		--local 127.0.0.1 --from 2125550000 --expect 504 --tone 0 \
		2>>"$WORK/tgcall.log") || fail "the unanswered SETUP: $out"
	echo $((($(date +%s%N) - t0) / 1000000))
}
in_range() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ] || fail "$4: $1 ms, want $2-$3"; }

# 1. T303 = 500 ms.
ms=$(ignored_call)
in_range "$ms" 900 2500 "the call failed after"
log "ok: no reply to the SETUP: 504 after $ms ms (2 x T303 = 1000)"
wait_cdrs 1
expect_eq "its CDR cause" "$(sql "SELECT q850_cause FROM cdr WHERE called = '2125551999'")" 102
# libpri sent the network nothing: the channel was restarted, so the
# network's record of the SETUP is over (cause 41) and no 44 follows.
wait_for "the RESTART after T303" 5 grep -q '"called":"2125551999".*"cause":41' "$WORK/pstnsim.jsonl"
grep -q "span 1 chan 1: no reply to the SETUP (T303 twice): channel restarted" \
	"$WORK/tollgated.log" || fail "no log line for the T303 restart"

# 2. Reload with another T303, then a bad one.
alarms=$(json_field "$(ctl --json show spans)" alarms)
sed -i "s/^t303 = 500$/t303 = 1200/" "$WORK/tollgate.conf"
ctl reload >/dev/null || fail "reload"
spans=$(ctl --json show spans)
expect_eq "t303 after the reload" "$(json_field "$spans" t303)" 1200
expect_eq "D-channel after the reload" "$(json_field "$spans" dchan)" up
expect_eq "alarms after the reload" "$(json_field "$spans" alarms)" "$alarms"
grep -q "span 1: timers updated" "$WORK/tollgated.log" || fail "no log line for the new timers"
ms=$(ignored_call)
in_range "$ms" 2200 3500 "with t303 = 1200 the call failed after"
grep -q "cause 44" "$WORK/tollgated.log" && fail "a SETUP met cause 44: a channel was left held"
wait_cdrs 2
expect_eq "CDRs of the unanswered SETUPs, cause 102" "$(sql "SELECT count(*) FROM cdr WHERE called = '2125551999' AND q850_cause = 102")" 2
log "ok: reloaded T303 applies in place: 504 after $ms ms"
cp "$WORK/tollgate.conf" "$WORK/good.conf"
sed -i "s/^t303 = 1200$/t303 = 50/" "$WORK/tollgate.conf"
out=$(ctl reload 2>&1) && fail "a reload with t303 = 50 was accepted: $out"
echo "$out" | grep -q "t303: '50' is not a number from 500 to 30000" ||
	fail "reload message: $out"
grep -q "t303: '50' is not a number from 500 to 30000" "$WORK/tollgated.log" ||
	fail "no log line naming t303"
expect_eq "t303 after the refused reload" "$(json_field "$(ctl --json show spans)" t303)" 1200
cp "$WORK/good.conf" "$WORK/tollgate.conf"
log "ok: a bad timer value is refused, naming the key"

# 3. T309.
dchan() { json_field "$(ctl --json show spans)" dchan; }
call_state() { ctl --json show channels 1 | tr '}' '\n' | grep '"called":"2125551001"' | sed -n 's/.*"state":"\([^"]*\)".*/\1/p'; }
timeout 40 "$TGCALL" call "sip:2125551001@127.0.0.1:$SIP_PORT" \
	--local 127.0.0.1 --from 2125550000 --hold 7000 --tone 0 \
	> "$WORK/c1.json" 2>>"$WORK/tgcall.log" &
C1=$!
PIDS+=("$C1")
wait_for "the call up" 10 sh -c "'$TGCTL' -s '$CTL' --json show calls | grep -q '\"answered\":true'"
kill -USR1 "$PSTN_PID"
t0=$(date +%s%N)
wait_for "the gateway to see the D-channel down" 6 sh -c "'$TGCTL' -s '$CTL' --json show spans | grep -q '\"dchan\":\"down\"'"
kill -USR2 "$PSTN_PID"
log "D-channel down after $((($(date +%s%N) - t0) / 1000000)) ms, mended"
wait_for "the D-channel up again" 5 sh -c "'$TGCTL' -s '$CTL' --json show spans | grep -q '\"dchan\":\"up\"'"
expect_eq "the call after a short outage" "$(call_state)" in-use
wait "$C1" || fail "the call that lived through the outage: $(cat "$WORK/c1.json")"
grep -q '"bye_by":"local"' "$WORK/c1.json" || fail "the call did not end normally: $(cat "$WORK/c1.json")"
wait_cdrs 3
expect_eq "its CDR cause" "$(sql "SELECT q850_cause FROM cdr WHERE called = '2125551001'")" 16
log "ok: a D-channel outage shorter than T309: the call lived on"

timeout 40 "$TGCALL" call "sip:2125551002@127.0.0.1:$SIP_PORT" \
	--local 127.0.0.1 --from 2125550000 --hold 25000 --tone 0 \
	> "$WORK/c2.json" 2>>"$WORK/tgcall.log" &
PIDS+=($!)
wait_for "the call up" 10 sh -c "'$TGCTL' -s '$CTL' --json show calls | grep -q '\"answered\":true'"
kill -USR1 "$PSTN_PID"
wait_for "the gateway to see the D-channel down" 6 sh -c "'$TGCTL' -s '$CTL' --json show spans | grep -q '\"dchan\":\"down\"'"
t0=$(date +%s%N)
wait_for "the caller's BYE" 8 test -s "$WORK/c2.json"
ms=$((($(date +%s%N) - t0) / 1000000))
kill -USR2 "$PSTN_PID"
grep -q '"reason_cause":27' "$WORK/c2.json" ||
	fail "the caller did not hear cause 27: $(cat "$WORK/c2.json")"
# libpri reports the D-channel down when Q.921 starts polling, and runs
# T309 from the release that follows N200 x T200 (~1.2 s) later.
in_range "$ms" 4000 6500 "T309 (4000) cleared the call after"
wait_cdrs 4
expect_eq "its CDR cause" "$(sql "SELECT q850_cause FROM cdr WHERE called = '2125551002'")" 27
wait_for "the D-channel up again" 5 sh -c "'$TGCTL' -s '$CTL' --json show spans | grep -q '\"dchan\":\"up\"'"
wait_for "every channel idle" 10 sh -c "'$TGCTL' -s '$CTL' --json show spans | grep -q '\"idle\":23'"
log "ok: a D-channel outage longer than T309: cleared with cause 27 after $ms ms"
