#!/usr/bin/env bash
# tests/integration/sip_tcp.sh  SIP over TCP (RFC 3261 18), both ways:
# REGISTER and OPTIONS probes reach a TCP provider over one connection.
# SIPp (-t t1: one connection) places 20 calls to the PSTN through the
# gateway over TCP; then pstnsim places 10 calls to a SIPp UAS on a
# `transport = tcp` trunk: the gateway connects once and keeps the
# connection.  Every call answers, the Vias and Contacts say TCP, and a
# capture of the TCP traffic decodes as SIP in tshark.  Garbage on a
# connection closes it with a log line; the gateway goes on serving.  A
# caller whose connection closes mid-call gets our BYE at its Contact.
. "$(dirname "$0")/lib.sh"

# A provider on TCP (a Python registrar below) that we register with and
# probe with OPTIONS: both go over one TCP connection of ours.
PROV_PORT=$(free_udp_port)
cat > "$WORK/prov.py" <<'PY'
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(4)
log = open(sys.argv[2], "a", buffering=1)
srv.settimeout(60)
conn, peer = srv.accept()
log.write("accepted\n")
buf = b""
while True:
    d = conn.recv(65536)
    if not d:
        break
    buf += d
    while b"\r\n\r\n" in buf:
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        log.write("%s | %s | %s\n" % (lines[0],
                  [l for l in lines if l.startswith("Via:")][0],
                  ([l for l in lines if l.startswith("Contact:")] or [""])[0]))
        keep = [l for l in lines if l.split(":")[0] in
                ("Via", "From", "To", "Call-ID", "CSeq", "Contact")]
        resp = "SIP/2.0 200 OK\r\n" + "\r\n".join(
            l + (";tag=prov" if l.startswith("To:") else "") for l in keep)
        conn.sendall((resp + "\r\nExpires: 60\r\nContent-Length: 0\r\n\r\n").encode())
PY
python3 "$WORK/prov.py" "$PROV_PORT" "$WORK/prov.log" 2> "$WORK/prov.err" &
PIDS+=("$!")
wait_for "the provider to listen" 5 sh -c "ss -Hltn 'sport = :$PROV_PORT' | grep -q ."

write_conf
sed -i "/^\[sip\]/a tcp = yes\ntcp_idle_timeout = 5" "$WORK/tollgate.conf"
sed -i "/^\[trunk pbx\]/a transport = tcp" "$WORK/tollgate.conf"
cat >> "$WORK/tollgate.conf" <<CONF

[trunk prov]
type = sip
peer = 127.0.0.1:$PROV_PORT
transport = tcp
register = yes
auth_user = acct
auth_password = secret
options_interval = 1
CONF
start_pstnsim --answer-after 50
start_gw
grep -q "listening on tcp 127.0.0.1:$SIP_PORT" "$WORK/tollgated.log" ||
	fail "no TCP listener in the log"

CAP=""
if command -v tshark >/dev/null && command -v dumpcap >/dev/null &&
	[ -n "${TG_IN_NETNS:-}" ]; then
	CAP=$WORK/tcp.pcapng
	dumpcap -q -i lo -f "tcp port $SIP_PORT or tcp port $PBX_PORT" \
		-w "$CAP" > "$WORK/dumpcap.log" 2>&1 &
	PIDS+=("$!")
	sleep 1
fi

# (0) REGISTER and OPTIONS keep-alives to the TCP provider.
wait_for "registered over TCP" 10 grep -q "trunk prov: registered at" "$WORK/tollgated.log"
wait_for "two OPTIONS over TCP" 10 sh -c "[ \$(grep -c '^OPTIONS ' '$WORK/prov.log') -ge 2 ]"
grep -q "^REGISTER sip:127.0.0.1:$PROV_PORT SIP/2.0 | Via: SIP/2.0/TCP 127.0.0.1:$SIP_PORT;rport;branch=z9hG4bK.* | Contact: <sip:acct@127.0.0.1:$SIP_PORT;transport=tcp>" \
	"$WORK/prov.log" || fail "REGISTER without a TCP Via or ;transport=tcp Contact"
expect_eq "connections the provider saw" "$(grep -c '^accepted' "$WORK/prov.log")" 1
log "ok: REGISTER and OPTIONS probes to the provider over one TCP connection"

# (1) SIP -> PSTN over one TCP connection.
timeout 60 sipp -sf "$SIPP_DIR/uac.xml" "127.0.0.1:$SIP_PORT" -t t1 \
	-i 127.0.0.1 -p "$PBX_PORT" -s 2125551234 -m 20 -r 10 -d 200 \
	-nostdin -trace_msg -message_file "$WORK/sipp_uac_msg.log" \
	> "$WORK/sipp.log" 2>&1 || fail "sipp over TCP reported failed calls"
log "ok: 20 calls SIPp -> PSTN over TCP, none failed"
wait_cdrs 20
expect_eq "answered CDRs" "$(sql "SELECT count(*) FROM cdr WHERE
	disposition = 'ANSWERED' AND in_trunk = 'pbx' AND sip_status = 200")" 20
grep -q '^Contact: <sip:2125551234@127.0.0.1:'"$SIP_PORT"';transport=tcp>' \
	"$WORK/sipp_uac_msg.log" || fail "our 200 OK's Contact is not ;transport=tcp"
log "ok: our Contact says ;transport=tcp"
# Timer G is off over TCP: every 200 OK was sent once (SIPp ACKs at once).
oks=$(grep -c '^SIP/2.0 200 OK' "$WORK/sipp_uac_msg.log")
[ "$oks" -le 40 ] || fail "$oks 200 OKs for 20 INVITEs and 20 BYEs"

# (2) PSTN -> SIP: our INVITEs go over TCP to a SIPp UAS.
sipp -sn uas -t t1 -i 127.0.0.1 -p "$PBX_PORT" -m 11 -nostdin -bg \
	-trace_msg -message_file "$WORK/sipp_uas_msg.log" \
	> "$WORK/sipp_uas.log" 2>&1 || true
SIPP_PID=$(grep -o 'PID=\[[0-9]*\]' "$WORK/sipp_uas.log" | tr -dc 0-9)
[ -n "$SIPP_PID" ] && PIDS+=("$SIPP_PID")
sleep 0.5
kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
start_pstnsim --originate 10 --rate 5 --to 5550100 --from 2125559999 \
	--hold 300 --exit-when-done
wait_for "pstnsim to finish its 10 calls" 40 sh -c "! kill -0 $PSTN_PID"
summary=$(grep '"event":"summary"' "$WORK/pstnsim.jsonl")
expect_eq "pstnsim calls answered over TCP" "$(json_field "$summary" answered)" 10
wait_cdrs 30
expect_eq "inbound ANSWERED CDRs to the TCP trunk" "$(sql "SELECT count(*)
	FROM cdr WHERE direction = 'inbound' AND disposition = 'ANSWERED'
	AND out_trunk = 'pbx'")" 10
grep -q '^Via: SIP/2.0/TCP 127.0.0.1:'"$SIP_PORT"';rport;branch=z9hG4bK' \
	"$WORK/sipp_uas_msg.log" || fail "our INVITE's Via is not SIP/2.0/TCP"
expect_eq "connections we opened to the UAS" \
	"$(grep -c "tcp to 127.0.0.1:$PBX_PORT: connected" "$WORK/tollgated.log")" 1
log "ok: 10 calls PSTN -> SIPp over one TCP connection of ours"
ctl show connections | grep -Eq "^tcp +out +127.0.0.1:$PBX_PORT +up " ||
	fail "show connections: $(ctl show connections)"
log "ok: show connections lists our connection to the UAS"

# (3) The idle connection of ours closes after tcp_idle_timeout.
wait_for "idle connection closed" 15 \
	grep -q "tcp to 127.0.0.1:$PBX_PORT: idle, closed" "$WORK/tollgated.log"
log "ok: our idle connection closed after tcp_idle_timeout"

# (4) Garbage on a connection: closed with a log line; SIP goes on.
python3 - "$SIP_PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n")
try:
    print(len(s.recv(100)))
except OSError:
    pass
PY
wait_for "garbage refused" 5 grep -q "tcp from 127.0.0.1:[0-9]*: not a SIP message: connection closed" "$WORK/tollgated.log"
python3 - "$SIP_PORT" <<'PY' || fail "no 200 to OPTIONS over TCP after the garbage"
import socket, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=3)
# a keep-alive ping first (RFC 5626): answered by a pong
s.sendall(b"\r\n\r\n")
pong = s.recv(2)
assert pong == b"\r\n", pong
msg = ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n"
       "Via: SIP/2.0/TCP 192.0.2.1:9;branch=z9hG4bKtcpopt1\r\n"
       "From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\n"
       "Call-ID: tcpopt1@127.0.0.1\r\nCSeq: 1 OPTIONS\r\n"
       "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n" % port).encode()
# In two pieces: the framer waits for the rest.  The answer comes back
# over this connection, not to the Via (RFC 3261 18.2.2).
s.sendall(msg[:40]); s.sendall(msg[40:])
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(4096)
    if not d:
        break
    buf += d
assert buf.startswith(b"SIP/2.0 200"), buf[:80]
assert b"received=127.0.0.1" in buf, buf
PY
log "ok: garbage closed its connection; OPTIONS over TCP answered 200"
js=$(ctl --json show connections)
printf '%s' "$js" | python3 -m json.tool > /dev/null || fail "not JSON: $js"
expect_eq "garbage counted (show connections)" "$(json_field "$js" bad)" 1
[ "$(json_field "$js" opened)" -ge 2 ] || fail "show connections: $js"

# (5) The caller's connection closes mid-call (a proxy's idle timeout):
# our BYE goes to its Contact, over a new TCP connection.
start_pstnsim --hangup-after 1500
wait_for "D-channel up again" 10 sh -c "'$TGCTL' -s '$CTL' --json show spans | grep -q '\"dchan\":\"up\"'"
cat > "$WORK/uac_close.py" <<'PY'
import re, socket, sys
port = int(sys.argv[1])
lsn = socket.socket(); lsn.bind(("127.0.0.1", 0)); lsn.listen(1)
lsn.settimeout(15)
me = lsn.getsockname()[1]
def read(s, buf):
    while True:
        m = re.match(rb"(.*?\r\n\r\n)", buf, re.S)
        if m:
            n = int(re.search(rb"Content-Length: *(\d+)", m.group(1), re.I).group(1))
            if len(buf) >= len(m.group(1)) + n:
                return m.group(1).decode(), buf[len(m.group(1)) + n:]
        d = s.recv(65536)
        if not d:
            sys.exit("closed")
        buf += d
def hdrs(method, cseq, tag=""):
    return ("%s sip:2125551234@127.0.0.1:%d SIP/2.0\r\n"
            "Via: SIP/2.0/TCP 127.0.0.1:%d;branch=z9hG4bKclose%d\r\n"
            "From: <sip:2125550000@127.0.0.1>;tag=c1\r\nTo: <sip:2125551234@127.0.0.1>%s\r\n"
            "Call-ID: close1@127.0.0.1\r\nCSeq: %d %s\r\n"
            "Contact: <sip:2125550000@127.0.0.1:%d;transport=tcp>\r\nMax-Forwards: 70\r\n"
            % (method, port, me, cseq, tag, cseq, method, me))
sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
       "t=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall((hdrs("INVITE", 1) + "Content-Type: application/sdp\r\n"
           "Content-Length: %d\r\n\r\n%s" % (len(sdp), sdp)).encode())
buf = b""
while True:
    r, buf = read(s, buf)
    if int(r.split()[1]) >= 200:
        break
assert r.startswith("SIP/2.0 200"), r
tag = re.search(r"^To:.*(;tag=[^;\r\n]+)", r, re.M).group(1)
s.sendall((hdrs("ACK", 1, tag) + "Content-Length: 0\r\n\r\n").encode())
s.close()                              # gone, mid-call
c, _ = lsn.accept()                    # the gateway comes to our Contact
bye, _ = read(c, b"")
assert bye.startswith("BYE sip:2125550000@127.0.0.1:%d;transport=tcp SIP/2.0" % me), bye
via = re.search(r"^Via: .*", bye, re.M).group(0)
cid = re.search(r"^Call-ID: .*", bye, re.M).group(0)
fr = re.search(r"^From: .*", bye, re.M).group(0)
to = re.search(r"^To: .*", bye, re.M).group(0)
cs = re.search(r"^CSeq: .*", bye, re.M).group(0)
c.sendall(("SIP/2.0 200 OK\r\n%s\r\n%s\r\n%s\r\n%s\r\n%s\r\nContent-Length: 0\r\n\r\n"
           % (via, fr, to, cid, cs)).encode())
print("BYE over a new connection")
PY
expect_eq "(5) BYE after the caller's connection closed" \
	"$(timeout 20 python3 "$WORK/uac_close.py" "$SIP_PORT")" "BYE over a new connection"
grep -q "connection is gone; requests go to its Contact 127.0.0.1:[0-9]* over TCP" \
	"$WORK/tollgated.log" || fail "(5) no log line of the new target"

if [ -n "$CAP" ]; then
	sleep 1
	kill -INT "${PIDS[-1]}" 2>/dev/null || true
	sleep 1
	n=$(tshark -r "$CAP" -d "tcp.port==$SIP_PORT,sip" -d "tcp.port==$PBX_PORT,sip" \
		-Y 'sip.Method == "INVITE"' 2>/dev/null | wc -l)
	[ "$n" -ge 30 ] || fail "tshark decoded $n INVITEs in the TCP capture"
	log "ok: tshark decodes $n INVITEs over TCP"
fi
