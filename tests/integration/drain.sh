#!/usr/bin/env bash
# tests/integration/drain.sh  (h) SIGTERM during 10 live calls: the calls
# are cleared, every CDR is in the database, the process exits 0.
# (i) tollgatectl lists the live calls; and refuses cleanly when the
# daemon is gone.
. "$(dirname "$0")/lib.sh"

DRAIN=1 write_conf
start_pstnsim
start_gw

for i in $(seq 1 10); do
	timeout 40 "$TGCALL" call "sip:21255510$((10 + i))@127.0.0.1:$SIP_PORT" \
		--local 127.0.0.1 --hold 30000 --tone 0 \
		> "$WORK/call$i.json" 2>>"$WORK/tgcall.log" &
	PIDS+=($!)
done
wait_for "10 answered calls" 20 sh -c \
	"test \$('$TGCTL' -s '$CTL' --json show calls | grep -o '\"answered\":true' | wc -l) -eq 10"
calls=$(ctl show calls)
echo "$calls" | grep -q '^10 call(s)$' || fail "show calls: $calls"
expect_eq "calls listed with span/channel" \
	"$(echo "$calls" | grep -Ec ' outbound +answered +[^ ]+ +21255510[0-9]+ +1/[0-9]+ +PCMU')" 10
expect_eq "busy channels" "$(ctl --json show spans | grep -o '"in_use":[0-9]*' | tr -dc 0-9)" 10

kill -TERM "$GW_PID"
rc=0
for _ in $(seq 1 100); do
	kill -0 "$GW_PID" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$GW_PID" 2>/dev/null && fail "tollgated still running 10 s after SIGTERM"
wait "$GW_PID" || rc=$?
expect_eq "tollgated exit status" "$rc" 0

expect_eq "CDRs after SIGTERM" "$(sql "SELECT count(*) FROM cdr WHERE
	disposition = 'ANSWERED' AND q850_cause = 16 AND end_ms >= answer_ms")" 10
# The SIP side was told: every tgcall saw the gateway's BYE.
for i in $(seq 1 10); do
	for _ in $(seq 1 50); do [ -s "$WORK/call$i.json" ] && break; sleep 0.1; done
	expect_eq "call $i ended by" "$(json_field "$(cat "$WORK/call$i.json")" bye_by)" remote
done

out=$("$TGCTL" -s "$CTL" status 2>&1) && fail "tollgatectl succeeded without a daemon"
echo "$out" | grep -q "cannot reach tollgated" || fail "tollgatectl message: $out"
log "ok: tollgatectl says the daemon is not running"
