#!/usr/bin/env bash
# tests/integration/ipv6.sh  SIP over UDP/IPv6, SDP with c=IN IP6 and RTP
# over IPv6, end to end on ::1: a SIPp phone on [::1] calls the PSTN, and
# pstnsim calls a DID on a trunk whose peer is the literal [::1]:port.
# SIPp echoes the RTP it gets (-rtp_echo), so pstnsim hearing its own
# 1 kHz tone back proves audio went both ways over IPv6.
. "$(dirname "$0")/lib.sh"

if ! ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128'; then
	log "SKIP: no IPv6 loopback address (::1) here"
	exit 77
fi
command -v sipp >/dev/null || { log "SKIP: no sipp"; exit 77; }

write_conf
sed -i -e 's/^bind = 127.0.0.1$/bind = ::1/' \
	-e 's/^media_addr = 127.0.0.1$/media_addr = ::1/' \
	-e "s/^peer = 127.0.0.1:$PBX_PORT\$/peer = [::1]:$PBX_PORT/" \
	-e 's/^accept_from = 127.0.0.1$/accept_from = ::1/' \
	"$WORK/tollgate.conf"
start_pstnsim --media tone:1000 --detect 1000
start_gw
grep -q "listening on udp ::1:$SIP_PORT" "$WORK/tollgated.log" ||
	fail "not listening on [::1]:$SIP_PORT"

tone_ok() { awk -v r="$1" 'BEGIN { exit !(r > 0.8) }'; }
# sipp_uas NAME: a SIPp PBX on [::1]:PBX_PORT echoing RTP, messages to
# $WORK/NAME.msg, one call; its PID in UAS_PID.
sipp_uas() {
	(cd "$WORK" && exec sipp -sn uas -i ::1 -mi ::1 -p "$PBX_PORT" \
		-rtp_echo -m 1 -nostdin -trace_msg \
		-message_file "$WORK/$1.msg" > "$WORK/$1.log" 2>&1) &
	UAS_PID=$!
	PIDS+=("$UAS_PID")
	wait_for "SIPp on [::1]:$PBX_PORT" 10 sh -c \
		"ss -Hlun 'sport = :$PBX_PORT' | grep -q ."
}

# SIP -> PSTN from [::1].
(cd "$WORK" && timeout 30 sipp -sf "$SIPP_DIR/uac.xml" -i ::1 -mi ::1 \
	-p "$CLI_PORT" -s 2125551234 "[::1]:$SIP_PORT" -m 1 -d 3000 \
	-rtp_echo -nostdin -trace_msg -message_file "$WORK/sipp_uac.msg" \
	> "$WORK/sipp_uac.log" 2>&1) || fail "IPv6 call failed (sipp)"
wait_for "pstnsim call record" 5 pstnsim_calls_ge 1
# Ours, not SIPp's: o=tollgate, with the c= line after it.
grep -A2 "^o=tollgate .* IN IP6 ::1" "$WORK/sipp_uac.msg" |
	grep -q "^c=IN IP6 ::1" ||
	fail "our answer has no IN IP6: $(grep '^[co]=' "$WORK/sipp_uac.msg")"
grep -q "^Contact: <sip:2125551234@\[::1\]:$SIP_PORT>" "$WORK/sipp_uac.msg" ||
	fail "our Contact is not [::1]:$SIP_PORT"
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1)
ratio=$(json_field "$rec" rx_tone_ratio)
tone_ok "$ratio" || fail "IPv6 SIP -> PSTN: pstnsim heard its echo at $ratio: $rec"
log "ok: SIP -> PSTN over IPv6: c=IN IP6 ::1, audio both ways (ratio $ratio)"

# PSTN -> SIP toward the trunk's peer [::1]:PBX_PORT.
kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
sipp_uas sipp_uas
start_pstnsim --media tone:1000 --detect 1000 --originate 1 --rate 1 \
	--to 5550142 --from 2125559999 --hold 3000 --exit-when-done
wait_for "the inbound call" 30 sh -c "! kill -0 $PSTN_PID"
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1)
expect_eq "IPv6 peer answered" "$(json_field "$rec" answered)" true
grep -q "^INVITE sip:5550142@\[::1\]:$PBX_PORT" "$WORK/sipp_uas.msg" ||
	fail "no INVITE to [::1]:$PBX_PORT"
grep -A2 "^o=tollgate .* IN IP6 ::1" "$WORK/sipp_uas.msg" |
	grep -q "^c=IN IP6 ::1" || fail "our offer has no IN IP6"
grep -q "^Via: SIP/2.0/UDP \[::1\]:$SIP_PORT" "$WORK/sipp_uas.msg" ||
	fail "our Via is not [::1]:$SIP_PORT"
ratio=$(json_field "$rec" rx_tone_ratio)
tone_ok "$ratio" || fail "IPv6 PSTN -> SIP: pstnsim heard its echo at $ratio: $rec"
log "ok: PSTN -> SIP to [::1]:$PBX_PORT: Via [::1], c=IN IP6, audio both ways (ratio $ratio)"
wait_cdrs 2
expect_eq "both calls answered in the CDRs" \
	"$(sql "SELECT count(*) FROM cdr WHERE answer_ms IS NOT NULL")" 2

# Dual stack: SIP on 127.0.0.1 and [::1] at once (bind6), a phone on
# IPv4 calling the PBX on [::1]: SIP in over IPv4, out over IPv6, RTP
# relayed between an IPv4 and an IPv6 socket.  SIPp echoes, so the phone
# hears its own tone only if audio crossed both ways.
kill -TERM "$UAS_PID"; wait "$UAS_PID" 2>/dev/null || true
kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null || true
sed -i -e 's/^bind = ::1$/bind = 127.0.0.1\nbind6 = ::1/' \
	-e 's/^media_addr = ::1$/media_addr = 127.0.0.1/' \
	-e 's/^outbound = pstn$/outbound = pbx/' "$WORK/tollgate.conf"
printf '\n[trunk phone]\ntype = sip\npeer = 127.0.0.1:%s\naccept_from = 127.0.0.1\n' \
	"$CLI_PORT" >> "$WORK/tollgate.conf"
start_pstnsim
start_gw
grep -q "listening on udp 127.0.0.1:$SIP_PORT" "$WORK/tollgated.log" &&
	grep -q "listening on udp ::1:$SIP_PORT" "$WORK/tollgated.log" ||
	fail "not listening on both 127.0.0.1 and [::1]"
sipp_uas sipp_uas2
out=$(timeout 30 "$TGCALL" call "sip:2125557777@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$CLI_PORT" --tone 1000 --detect 1000 --hold 3000 \
	2>>"$WORK/tgcall.log") || fail "IPv4 -> IPv6 call: $out"
ratio=$(json_field "$out" rx_tone_ratio)
tone_ok "$ratio" || fail "IPv4 -> IPv6: the phone heard its echo at $ratio: $out"
log "ok: IPv4 phone -> IPv6 PBX through one gateway: audio both ways (ratio $ratio)"
