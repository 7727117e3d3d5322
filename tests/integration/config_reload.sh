#!/usr/bin/env bash
# tests/integration/config_reload.sh  tollgated -t names file:line of an
# error; SIGHUP reloads the DID table without dropping a live call; a bad
# reload changes nothing.
. "$(dirname "$0")/lib.sh"

write_conf
"$TOLLGATED" -t -c "$WORK/tollgate.conf" > /dev/null || fail "-t refused a good config"
printf '[sip]\nport = 99999\n' > "$WORK/bad.conf"
out=$("$TOLLGATED" -t -c "$WORK/bad.conf" 2>&1) && fail "-t accepted a bad config"
echo "$out" | grep -q "bad.conf:2: port: '99999'" || fail "-t message: $out"
log "ok: -t names file:line"

start_pstnsim --media echo
start_gw

# A live call keeps going across the reload.
timeout 30 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--hold 4000 > "$WORK/live.json" 2>>"$WORK/tgcall.log" &
LIVE=$!
wait_for "a live call" 10 sh -c "'$TGCTL' -s '$CTL' --json show calls | grep -q '\"answered\":true'"

# 5557000 is not a DID yet: released with cause 1.
"$TGCALL" answer --local "127.0.0.1:$PBX_PORT" --count 1 --timeout 30 \
	> "$WORK/answer.json" 2>>"$WORK/tgcall.log" &
ANS=$!
PIDS+=("$ANS")
sql "INSERT INTO did (first, last, trunk) VALUES ('5557000', '5557009', 'pbx')"
kill -HUP "$GW_PID"
wait_for "reload logged" 5 grep -q "2 DID ranges" "$WORK/tollgated.log"

wait "$LIVE" || fail "the live call did not survive: $(cat "$WORK/live.json")"
expect_eq "live call hung up by its caller" "$(json_field "$(cat "$WORK/live.json")" bye_by)" local
log "ok: live call survived the reload"
kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
start_pstnsim --originate 1 --rate 1 --to 5557003 --from 2125559999 \
	--hold 500 --exit-when-done
wait_for "the call to the new DID" 20 sh -c "! kill -0 $PSTN_PID"
wait "$ANS" || fail "new DID not delivered: $(cat "$WORK/answer.json")"
expect_eq "new DID answered" "$(json_field "$(grep '"event":"summary"' "$WORK/pstnsim.jsonl")" answered)" 1

# A reload that fails to parse changes nothing and says why.
cp "$WORK/tollgate.conf" "$WORK/good.conf"
printf '[general]\nlog_level = loud\n' >> "$WORK/tollgate.conf"
out=$(ctl reload 2>&1) && fail "bad reload accepted: $out"
echo "$out" | grep -q "log_level" || fail "reload message: $out"
expect_eq "DIDs after the refused reload" "$(ctl --json status | grep -c '"state":"running"')" 1
log "ok: bad reload refused with the reason"
