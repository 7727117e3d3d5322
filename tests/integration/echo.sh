#!/usr/bin/env bash
# tests/integration/echo.sh  The line echo canceller ([span] echo_cancel).
# pstnsim's echo media plays back what it received 40 ms later, a fixed
# round trip: for the gateway that is a line with a strong (0 dB) echo.
# A SIP caller sending white noise at -10 dBFS (speech-wide, so the
# canceller must learn the whole band; a pure tone is a poor test of an
# adaptive filter) hears it back at full level with echo_cancel = no;
# with echo_cancel = yes (switched by reload: new calls take it) the echo
# it hears after convergence (from 1.5 s on) is at least 30 dB weaker.
. "$(dirname "$0")/lib.sh"

ECHO_CANCEL=no write_conf
start_pstnsim --media echo
start_gw

# The level of what the caller hears from 1.5 s into the call to its end.
call_level() {
	local out
	out=$(timeout 20 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" \
		--local "127.0.0.1:$PBX_PORT" --codec pcmu --tone noise \
		--hold 4000 --measure-after 1500 \
		2>>"$WORK/tgcall.log") || fail "call: $out"
	log "heard: $out"
	json_field "$out" rx_level_dbfs
}

off=$(call_level)
awk -v l="$off" 'BEGIN { exit !(l > -20) }' ||
	fail "echo_cancel = no: the echo should come back at full level, got $off dBFS"
log "ok: echo_cancel = no: the caller hears its echo at $off dBFS"

sed -i 's/^echo_cancel = no$/echo_cancel = yes/' "$WORK/tollgate.conf"
ctl reload >/dev/null || fail "reload"
on=$(call_level)
awk -v a="$off" -v b="$on" 'BEGIN { exit !(a - b >= 30) }' ||
	fail "echo_cancel = yes: echo at $on dBFS, only $(awk -v a="$off" -v b="$on" 'BEGIN{print a-b}') dB below $off"
log "ok: echo_cancel = yes: echo at $on dBFS ($(awk -v a="$off" -v b="$on" 'BEGIN{print a-b}') dB less)"

# The tail is per span and checked: 16 ms is refused at reload.
sed -i 's/^echo_cancel = yes$/echo_cancel = yes\necho_tail = 16/' "$WORK/tollgate.conf"
if ctl reload >/dev/null 2>&1; then
	fail "reload took echo_tail = 16"
fi
log "ok: echo_tail = 16 refused"
