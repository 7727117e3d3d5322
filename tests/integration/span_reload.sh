#!/usr/bin/env bash
# tests/integration/span_reload.sh  Span configuration on reload, one span
# at a time, without touching the other spans' calls.
#
#  - pstnsim serves three spans; tollgated starts with spans 1 and 2.
#  - A call is up on span 1.  A reload removes span 2 and adds span 3: span
#    3 comes up (its idle channels restarted), span 2 is gone, and the call
#    on span 1 goes on to its normal end.
#  - A reload that changes span 3's line settings (service_messages) opens
#    span 3 again (RESTARTs at pstnsim once more); span 1's new call goes
#    on; a call on span 3 afterwards works.
. "$(dirname "$0")/lib.sh"

export SPANS=2
write_conf
start_pstnsim --spans 3
start_gw

held_call() { # NUMBER HOLD_MS OUT
	timeout 40 "$TGCALL" call "sip:$1@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
		--from 2125550000 --expect 200 --hold "$2" --tone 0 > "$3" \
		2>>"$WORK/tgcall.log" &
	HELD=$!
	PIDS+=("$HELD")
	wait_for "the call to $1" 10 sh -c "'$TGCTL' -s '$CTL' --json show calls | grep -q '\"answered\":true'"
}
spans_up() { ctl --json show spans | grep -o '"span":[0-9]*,[^}]*"dchan":"up"' | grep -o '"span":[0-9]*' | tr -dc '0-9\n' | paste -sd, -; }
restarts_on() { grep -c "\"event\":\"restart\",\"span\":$1," "$WORK/pstnsim.jsonl" || true; }

expect_eq "spans up at start" "$(spans_up)" "1,2"
held_call 2125551001 4000 "$WORK/c1.json"

sed -i 's/^spans = 1,2$/spans = 1,3/' "$WORK/tollgate.conf"
sed -i 's/^\[span 2\]$/[span 3]/' "$WORK/tollgate.conf"
out=$(ctl reload) || fail "reload: $out"
for _ in $(seq 1 100); do [ "$(spans_up)" = "1,3" ] && break; sleep 0.1; done
expect_eq "spans after the reload" "$(spans_up)" "1,3"
grep -q "reload: span 2 removed" "$WORK/tollgated.log" || fail "no log line for span 2"
grep -q "reload: span 3 added" "$WORK/tollgated.log" || fail "no log line for span 3"
wait_for "span 3's channels restarted" 5 sh -c "[ \$(grep -c '\"event\":\"restart\",\"span\":3,' '$WORK/pstnsim.jsonl') -eq 23 ]"
wait "$HELD" || fail "the call on span 1 was disturbed: $(cat "$WORK/c1.json")"
cdr_is() { [ "$(sql "SELECT disposition || ' ' || q850_cause FROM cdr WHERE
	called = '$1'")" = "ANSWERED 16" ]; }
wait_for "the span 1 call's CDR: answered, normal clearing" 10 cdr_is 2125551001
log "ok: span 2 removed and span 3 added by reload; span 1's call untouched"

held_call 2125551002 4000 "$WORK/c2.json"
r3=$(restarts_on 3)
sed -i '/^\[span 3\]/a service_messages = yes' "$WORK/tollgate.conf"
out=$(ctl reload) || fail "reload: $out"
grep -q "reload: span 3 changed: opened again" "$WORK/tollgated.log" || fail "span 3 not reopened"
wait_for "span 3 restarted again" 10 sh -c "[ \$(grep -c '\"event\":\"restart\",\"span\":3,' '$WORK/pstnsim.jsonl') -ge $((r3 + 23)) ]"
wait "$HELD" || fail "the call on span 1 was disturbed: $(cat "$WORK/c2.json")"
wait_for "the second span 1 call's CDR" 10 cdr_is 2125551002
# A call on span 3 (span 1 fully busy would be needed to force it: hunt
# descending instead).
sed -i '/^\[trunk pstn\]/a hunt = descending' "$WORK/tollgate.conf"
ctl reload >/dev/null || fail "reload"
n0=$(grep -c '"event":"call"' "$WORK/pstnsim.jsonl" || true)
timeout 20 "$TGCALL" call "sip:2125551003@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--from 2125550000 --expect 200 --hold 200 --tone 0 >/dev/null \
	2>>"$WORK/tgcall.log" || fail "a call on span 3"
wait_for "pstnsim's record" 10 sh -c "[ \$(grep -c '\"event\":\"call\"' '$WORK/pstnsim.jsonl') -gt $n0 ]"
expect_eq "the call's span" "$(json_field "$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1)" span)" 3
log "ok: span 3 reopened with new settings; span 1's call untouched; span 3 carries calls"
