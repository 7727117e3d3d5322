#!/usr/bin/env bash
# tests/integration/registrar.sh  Tollgate as registrar (RFC 3261 10.3).
# Trunk office (registrar = yes, inbound_user office, MD5) owns DIDs
# 5550200-5550299.  A PBX (SIPp at 127.0.0.3) registers with digest:
#  - a wrong password gets 403 and leaves no binding;
#  - before any binding, a PSTN call to its DID fails with cause 20;
#  - Expires: 10 (below registrar_min_expires 30) gets 423 Min-Expires: 30;
#  - Expires: 300 is cut to registrar_max_expires (120) in the 200;
#  - a REGISTER without Contact (a query) lists it;
#  - a refresh renews it (one binding, the new expiry);
#  - a PSTN call to 5550234 then rings the registered PBX and connects
#    (CDR ANSWERED, out_trunk office); the PBX's own call goes out as
#    trunk office;
#  - the binding survives a reload;
#  - Contact: * with Expires: 0 removes it: the next call fails, cause 20.
. "$(dirname "$0")/lib.sh"

PBX=127.0.0.3
EXTRA=$(cat <<'CONF'

[trunk office]
type = sip
registrar = yes
inbound_user = office
inbound_password = off1ce
inbound_digest = md5
registrar_min_expires = 30
registrar_max_expires = 120
CONF
)
write_conf
sed -i '/^\[dids\]/a 5550200-5550299 = office' "$WORK/tollgate.conf"
start_pstnsim --answer-after 50
start_gw

N=0
pbx_register() { # PASSWORD CONTACT EXPIRES
	N=$((N + 1))
	timeout 15 sipp -sf "$SIPP_DIR/reg_uac.xml" "127.0.0.1:$SIP_PORT" \
		-i "$PBX" -p "$CLI_PORT" -m 1 -s office -au office -ap "$1" \
		-key contact_line "$2" -key expires "$3" -nostdin \
		-timeout 10 -timeout_error -trace_msg \
		-message_file "$WORK/sipp_reg.$N.msg.log" \
		>> "$WORK/sipp_reg.log" 2>&1
}
bindings() { ctl --json show registrations | sed 's/.*"bindings":\[//'; }
pstn_call() { # CALLED
	# Called in $(...): a subshell, where `wait` cannot wait for the
	# parent's child; the old pstnsim must be gone before the new one
	# binds (its exit unlinks the socket path).
	kill -TERM "$PSTN_PID" 2>/dev/null || true
	wait_for "the old pstnsim to exit" 10 sh -c "! kill -0 $PSTN_PID 2>/dev/null"
	start_pstnsim --originate 1 --rate 1 --to "$1" --from 2125559999 \
		--hold 500 --exit-when-done
	wait_for "pstnsim to finish" 20 sh -c "! kill -0 $PSTN_PID"
	grep '"event":"call"' "$WORK/pstnsim.jsonl" | head -1
}
CONTACT="Contact: <sip:pbx@$PBX:$CLI_PORT>"

# A wrong password: 403, no binding.
if pbx_register wrong "$CONTACT" 60; then fail "a wrong password registered"; fi
grep -q '^SIP/2.0 403' "$WORK/sipp_reg.$N.msg.log" || fail "no 403 for the wrong password"
expect_eq "bindings after the wrong password" "$(bindings)" "]}"
grep -q "REGISTER from $PBX:$CLI_PORT (user office): digest refused: wrong password" \
	"$WORK/tollgated.log" || fail "no log line for the wrong password"
log "ok: wrong password: 403, no binding"

# No binding: the call to the DID fails with cause 20 (subscriber absent).
call=$(pstn_call 5550234)
expect_eq "unregistered: answered" "$(json_field "$call" answered)" false
expect_eq "unregistered: cause" "$(json_field "$call" cause)" 20
log "ok: no binding: cause 20"

# Expires below the minimum: 423 with Min-Expires.
if pbx_register off1ce "$CONTACT" 10; then fail "Expires: 10 was taken"; fi
grep -q '^SIP/2.0 423' "$WORK/sipp_reg.$N.msg.log" || fail "no 423"
grep -q '^Min-Expires: 30' "$WORK/sipp_reg.$N.msg.log" || fail "no Min-Expires: 30"
log "ok: Expires: 10 -> 423 Min-Expires: 30"

# Registered, the expiry cut to the maximum.
pbx_register off1ce "$CONTACT" 300 || fail "the PBX could not register"
grep -q "^Contact: <sip:pbx@$PBX:$CLI_PORT>;expires=120" \
	"$WORK/sipp_reg.$N.msg.log" || fail "the 200 does not list the binding for 120 s"
b=$(bindings)
expect_eq "binding contact" "$(json_field "$b" contact)" "sip:pbx@$PBX:$CLI_PORT"
expect_eq "binding source" "$(json_field "$b" source)" "$PBX:$CLI_PORT"
[ "$(json_field "$b" expires_in)" -le 120 ] && [ "$(json_field "$b" expires_in)" -ge 110 ] ||
	fail "binding expires_in $(json_field "$b" expires_in)"
log "ok: registered for 120 s (asked 300)"

# A REGISTER without Contact is a query: the 200 lists the binding.
pbx_register off1ce "X-Query: bindings" 60 || fail "the query failed"
grep -q "^Contact: <sip:pbx@$PBX:$CLI_PORT>;expires=1[0-2][0-9]" \
	"$WORK/sipp_reg.$N.msg.log" || fail "the query's 200 does not list the binding"
expect_eq "bindings after the query" "$(ctl --json show registrations | grep -o '"contact"' | wc -l)" 1
log "ok: a REGISTER without Contact lists the binding and changes nothing"

# A refresh (another REGISTER of the same Contact) renews the binding.
pbx_register off1ce "$CONTACT" 45 || fail "the refresh failed"
b=$(bindings)
[ "$(json_field "$b" expires_in)" -le 45 ] && [ "$(json_field "$b" expires_in)" -ge 40 ] ||
	fail "refreshed binding expires_in $(json_field "$b" expires_in)"
expect_eq "bindings after the refresh" "$(ctl --json show registrations | grep -o '"contact"' | wc -l)" 1
log "ok: a refresh renewed the one binding (45 s)"

# The binding survives a reload.
kill -HUP "$GW_PID"
wait_for "reload" 5 grep -q "reloaded:" "$WORK/tollgated.log"
expect_eq "binding after reload" "$(json_field "$(bindings)" source)" "$PBX:$CLI_PORT"

# A PSTN call to its DID rings the registered PBX.
sipp -sn uas -i "$PBX" -p "$CLI_PORT" -m 1 -nostdin -timeout 20 \
	-trace_msg -message_file "$WORK/sipp_uas.msg.log" \
	> "$WORK/sipp_uas.log" 2>&1 &
UAS=$!
PIDS+=("$UAS")
sleep 0.3
n=$(sql 'SELECT count(*) FROM cdr')
call=$(pstn_call 5550234)
expect_eq "registered: answered" "$(json_field "$call" answered)" true
wait "$UAS" || fail "the PBX's SIPp UAS failed"
grep -q "^INVITE sip:5550234@$PBX:$CLI_PORT SIP/2.0" "$WORK/sipp_uas.msg.log" ||
	fail "the INVITE did not reach the registered PBX"
wait_cdrs $((n + 1))
expect_eq "CDR" "$(sql "SELECT disposition || ',' || out_trunk FROM cdr
	ORDER BY rowid DESC LIMIT 1")" "ANSWERED,office"
log "ok: the PSTN call to the DID rang the registered contact and connected"

# The registered PBX calls out through us: known by its digest user.
start_pstnsim --answer-after 50
wait_for "the D-channel" 10 span_up
n=$(sql 'SELECT count(*) FROM cdr')
timeout 20 sipp -sf "$SIPP_DIR/uac_auth.xml" "127.0.0.1:$SIP_PORT" \
	-i "$PBX" -p "$CLI_PORT" -s 2125551234 -m 1 -d 200 -au office \
	-ap off1ce -nostdin -timeout 10 -timeout_error \
	>> "$WORK/sipp_out.log" 2>&1 || fail "the PBX's outbound call failed"
wait_cdrs $((n + 1))
expect_eq "outbound CDR" "$(sql "SELECT disposition || ',' || in_trunk ||
	',' || out_trunk FROM cdr ORDER BY rowid DESC LIMIT 1")" "ANSWERED,office,pstn"
log "ok: the registered PBX's own call went out as trunk office"

# Unregister everything: the next call fails with cause 20.
pbx_register off1ce 'Contact: *' 0 || fail "Contact: * did not unregister"
expect_eq "bindings after Contact: *" "$(bindings)" "]}"
call=$(pstn_call 5550234)
expect_eq "unregistered again: cause" "$(json_field "$call" cause)" 20
log "ok: Contact: * removed the binding; the next call got cause 20"
