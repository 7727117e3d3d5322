#!/usr/bin/env bash
# tests/integration/audit.sh  The periodic channel audit ([span] audit).
#
#  1. A call is up and the PSTN forgets it without a word (pstnsim rule
#     forget=MS): within an audit period the gateway's probe meets
#     RELEASE COMPLETE, cause 81; the SIP caller gets a BYE with that
#     cause, the CDR says so, the channel is idle and the next call takes
#     it.  `show spans` counts the reset, the log names span, channel and
#     why.
#  2. The PSTN never answers our DISCONNECT or RELEASE (drop-release):
#     after T305 and T308 twice (short here) libpri gives up, the channel
#     is kept out of use, and the audit restarts it: the PSTN sees a
#     RESTART for that channel, the channel comes back idle and usable.
. "$(dirname "$0")/lib.sh"

EXTRA=""
write_conf
sed -i "/^\[span 1\]/a audit = 2\nt305 = 1000\nt308 = 1000" "$WORK/tollgate.conf"
start_pstnsim --rule 2125551001=answer,forget=1000 \
	--rule 2125551003=answer,drop-release --answer-after 100
start_gw

spans=$(ctl --json show spans)
expect_eq "audit period" "$(json_field "$spans" audit)" 2
expect_eq "audit resets at start" "$(json_field "$spans" audit_resets)" 0
expect_eq "t305 in force" "$(json_field "$spans" t305)" 1000

resets() { ctl --json show spans | sed -n 's/.*"audit_resets":\([0-9]*\).*/\1/p'; }
chan_state() { # CHAN: its state in show channels
	ctl --json show channels 1 | tr '}' '\n' | grep "\"chan\":$1," |
		sed -n 's/.*"state":"\([^"]*\)".*/\1/p'
}
cdr_of() { sql "SELECT $2 FROM cdr WHERE called = '$1'"; }

# 1. The forgotten call.
t0=$(date +%s%N)
timeout 40 "$TGCALL" call "sip:2125551001@127.0.0.1:$SIP_PORT" \
	--local 127.0.0.1 --from 2125550000 --hold 25000 --tone 0 \
	> "$WORK/c1.json" 2>>"$WORK/tgcall.log" &
PIDS+=($!)
wait_for "pstnsim forgets the call" 10 grep -q '"event":"forget"' "$WORK/pstnsim.jsonl"
wait_for "the caller's BYE" 8 test -s "$WORK/c1.json"
ms=$((($(date +%s%N) - t0) / 1000000))
grep -q '"reason_cause":81' "$WORK/c1.json" ||
	fail "the caller did not hear cause 81: $(cat "$WORK/c1.json")"
[ "$ms" -lt 8000 ] || fail "the stale call took $ms ms to clear"
log "ok: the forgotten call cleared toward SIP with cause 81 after $ms ms (hold was 25 s)"
wait_for "its CDR" 5 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT q850_cause FROM cdr WHERE called = '2125551001'\")\" = 81 ]"
expect_eq "CDR disposition" "$(cdr_of 2125551001 disposition)" ANSWERED
c1=$(cdr_of 2125551001 chan)
grep -q "span 1 chan $c1: audit: the far end does not know the call (cause 81); call cleared" \
	"$WORK/tollgated.log" || fail "no audit log line for channel $c1"
expect_eq "audit resets" "$(resets)" 1
expect_eq "channel $c1 after the audit" "$(chan_state "$c1")" idle
ctl --json show channels 1 | tr '}' '\n' | grep "\"chan\":$c1," |
	grep -q '"audit_resets":1' || fail "show channels: no audit reset on $c1"

out=$(timeout 20 "$TGCALL" call "sip:2125551002@127.0.0.1:$SIP_PORT" \
	--local 127.0.0.1 --from 2125550000 --hold 300 --tone 0 \
	2>>"$WORK/tgcall.log") || fail "the next call: $out"
wait_cdrs 2
expect_eq "the next call's channel" "$(cdr_of 2125551002 chan)" "$c1"
log "ok: the audited channel carried the next call"

# 2. The release the PSTN never answers.
out=$(timeout 20 "$TGCALL" call "sip:2125551003@127.0.0.1:$SIP_PORT" \
	--local 127.0.0.1 --from 2125550000 --hold 300 --tone 0 \
	2>>"$WORK/tgcall.log") || fail "the drop-release call: $out"
wait_cdrs 3
c3=$(cdr_of 2125551003 chan)
expect_eq "the drop-release call's CDR cause" "$(cdr_of 2125551003 q850_cause)" 16
wait_for "the PSTN ignoring our DISCONNECT" 5 grep -q '"event":"release_dropped".*"DISCONNECT"' "$WORK/pstnsim.jsonl"
expect_eq "channel $c3 while the release hangs" "$(chan_state "$c3")" releasing
wait_for "libpri giving up the release (T305 + 2 x T308)" 8 grep -q \
	"span 1 chan $c3: the far end never completed the release" "$WORK/tollgated.log"
# One RESTART per channel at start; the audit's is the second.
wait_for "the audit's RESTART at the PSTN" 6 sh -c "[ \$(grep -c '\"event\":\"restart\",\"span\":1,\"chan\":$c3}' '$WORK/pstnsim.jsonl') -eq 2 ]"
grep -q "span 1 chan $c3: audit: no RELEASE COMPLETE after T308 twice; RESTART sent" \
	"$WORK/tollgated.log" || fail "no audit log line for channel $c3"
expect_eq "RELEASEs the PSTN ignored (sent twice)" \
	"$(grep -c '"event":"release_dropped".*"RELEASE"' "$WORK/pstnsim.jsonl")" 2
wait_for "channel $c3 idle" 5 sh -c "[ \"\$('$TGCTL' -s '$CTL' --json show channels 1 | tr '}' '\n' | grep '\"chan\":$c3,' | sed -n 's/.*\"state\":\"\([^\"]*\)\".*/\1/p')\" = idle ]"
expect_eq "audit resets" "$(resets)" 2
ctl show spans | grep -q "^span 1: the channel audit reset 2 channel(s)$" ||
	fail "show spans: $(ctl show spans)"

out=$(timeout 20 "$TGCALL" call "sip:2125551004@127.0.0.1:$SIP_PORT" \
	--local 127.0.0.1 --from 2125550000 --hold 300 --tone 0 \
	2>>"$WORK/tgcall.log") || fail "the call after the restart: $out"
wait_cdrs 4
expect_eq "the restarted channel carried the next call" "$(cdr_of 2125551004 chan)" "$c3"
expect_eq "its cause" "$(cdr_of 2125551004 q850_cause)" 16
wait_for "every channel idle" 5 sh -c "'$TGCTL' -s '$CTL' --json show spans | grep -q '\"idle\":23'"
log "ok: a release the PSTN never completed: channel restarted by the audit, idle, reused"
