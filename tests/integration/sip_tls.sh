#!/usr/bin/env bash
# tests/integration/sip_tls.sh  SIP over TLS with a real TLS client and
# server (baresip).  A CA made here with `openssl req` signs the
# gateway's certificate (tollgate.test, 127.0.0.1) and baresip's
# (pbx.test).  (a) baresip calls pstnsim through the gateway over TLS:
# the call connects and pstnsim hears baresip's 1 kHz.  (b) pstnsim calls
# baresip: the `transport = tls` trunk connects to baresip, checks that
# its certificate names pbx.test, and the call connects with audio.
# (c) a trunk whose tls_server_name the certificate does not carry, and
# (d) a trunk whose certificate comes from another CA, are refused: the
# handshake fails with "certificate verify failed" in the log and the
# PSTN call is cleared as for an ICMP unreachable (no response at all:
# cause 102), no INVITE sent.
# (e) with tls_verify_client, a client with a certificate of tls_ca gets
# 200 to OPTIONS, one without is refused at the handshake; an INVITE to a
# sips: URI gets a sips: Contact (RFC 3261 12.1.1).
. "$(dirname "$0")/lib.sh"
command -v baresip >/dev/null || { log "SKIP: baresip not installed"; exit 77; }
command -v openssl >/dev/null || { log "SKIP: openssl not installed"; exit 77; }

PKI=$WORK/pki
pki_ca testca
pki_ca rogueca
pki_cert gw testca "DNS:tollgate.test,IP:127.0.0.1"
pki_cert pbx testca "DNS:pbx.test"
pki_cert rogue rogueca "DNS:pbx.test"

TLS_PORT=$(free_udp_port)
BS_TLS=$((PBX_PORT + 1))    # baresip listens for TLS one above sip_listen
# A second DID for (c) and (d): 5550200 goes to trunk "bad".
write_conf
sed -i "/^\[sip\]/a tls = yes\ntls_port = $TLS_PORT\ntls_cert = $PKI/gw.pem\ntls_key = $PKI/gw.key\ntls_ca = $PKI/testca.pem" \
	"$WORK/tollgate.conf"
sed -i "/^\[trunk pbx\]/,/^\[/ s/^peer = .*/peer = 127.0.0.1:$BS_TLS\ntransport = tls\ntls_server_name = pbx.test/" \
	"$WORK/tollgate.conf"
cat >> "$WORK/tollgate.conf" <<CONF

[trunk bad]
type = sip
peer = 127.0.0.1:$BS_TLS
transport = tls
tls_server_name = other.test
CONF
sed -i "/^\[general\]/a debug = sip-msg" "$WORK/tollgate.conf"
start_pstnsim --media tone:600 --detect 1000 --hangup-after 3000
start_gw
grep -q "listening on tls 127.0.0.1:$TLS_PORT" "$WORK/tollgated.log" ||
	fail "no TLS listener in the log"

BS=$WORK/baresip
# baresip (lib.sh's set-up, a 1 kHz tone) as a TLS server too: certificate
# and key in one file, our CA to know the gateway's by.
baresip_conf() { # CERTNAME
	baresip_setup "$BS" "$PBX_PORT" 1000 20
	cat "$PKI/$1.pem" "$PKI/$1.key" > "$BS/cert.pem"
	printf 'sip_certificate\t\t%s\nsip_cafile\t\t%s\n' "$BS/cert.pem" \
		"$PKI/testca.pem" >> "$BS/config"
	echo "<sip:5550100@127.0.0.1;transport=tls>;regint=0;audio_codecs=PCMU;answermode=auto" \
		> "$BS/accounts"
}
baresip_conf pbx

# heard WHAT: pstnsim's first call record is answered, baresip's 1 kHz in it.
heard() {
	local rec ratio
	rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | head -1)
	expect_eq "$1: answered at pstnsim" "$(json_field "$rec" answered)" true
	ratio=$(json_field "$rec" rx_tone_ratio)
	awk -v r="$ratio" 'BEGIN { exit !(r > 0.8) }' ||
		fail "$1: pstnsim heard baresip's 1 kHz at ratio $ratio"
	log "ok: $1: pstnsim heard baresip's 1 kHz (ratio $ratio)"
}
# refused WHAT DID LOGTEXT: pstnsim calls DID; the handshake fails with
# LOGTEXT and the call with cause 102, unanswered.
refused() {
	local rec
	start_pstnsim --originate 1 --rate 1 --to "$2" --from 2125559999 \
		--exit-when-done
	wait_for "pstnsim's call ($1)" 20 sh -c "! kill -0 $PSTN_PID"
	rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | head -1)
	expect_eq "$1: call not answered" "$(json_field "$rec" answered)" false
	expect_eq "$1: Q.850 cause" "$(json_field "$rec" cause)" 102
	grep -q "tls connection to 127.0.0.1:$BS_TLS failed: certificate verify failed: $3" \
		"$WORK/tollgated.log" || fail "$1: no '$3' in the log"
	log "ok: $1 refused at the handshake (cause 102)"
}

# (a) baresip -> gateway (TLS) -> pstnsim; baresip stays up to answer (b).
timeout 40 baresip -f "$BS" \
	-e "/dial sip:2125551234@127.0.0.1:$TLS_PORT;transport=tls" -t 35 \
	> "$WORK/baresip.log" 2>&1 &
BS_PID=$!
PIDS+=("$BS_PID")
wait_for "pstnsim record of the baresip call" 15 grep -q '"event":"call"' "$WORK/pstnsim.jsonl"
heard "(a) baresip's call over TLS"
grep -Eq "tls from 127.0.0.1:[0-9]+: TLSv1\.[23] " "$WORK/tollgated.log" ||
	fail "(a) no TLS 1.2+ session from baresip in the log"
grep -q "^Contact: <sip:2125551234@127.0.0.1:$TLS_PORT;transport=tls>" \
	"$WORK/tollgated.log" || fail "(a) our Contact is not ;transport=tls"
wait_cdrs 1
expect_eq "(a) CDR" "$(sql "SELECT disposition || ',' || in_trunk FROM cdr")" "ANSWERED,pbx"

# (b) pstnsim -> gateway -> baresip over a TLS connection of ours.
kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
start_pstnsim --originate 1 --rate 1 --to 5550100 --from 2125559999 \
	--media tone:600 --detect 1000 --hold 3000 --exit-when-done
wait_for "pstnsim's call to baresip" 20 sh -c "! kill -0 $PSTN_PID"
heard "(b) our call to baresip over TLS"
grep -Eq "tls to 127.0.0.1:$BS_TLS: TLSv1\.[23] " "$WORK/tollgated.log" ||
	fail "(b) no TLS session of ours to baresip in the log"
log "ok: (b) the gateway's TLS call to baresip (pbx.test verified) connected, tone heard"
wait_cdrs 2

# (c) the name check: trunk "bad" wants other.test; baresip is pbx.test.
sql "INSERT INTO did (first, last, trunk) VALUES ('5550200', '5550200', 'bad')"
ctl reload > /dev/null || fail "reload"
refused "(c) a certificate without the trunk's name" 5550200 "hostname mismatch"
kill -TERM "$BS_PID"; wait "$BS_PID" 2>/dev/null || true

# (d) a certificate from another CA, for the right name.
baresip_conf rogue
timeout 30 baresip -f "$BS" -t 25 > "$WORK/baresip_rogue.log" 2>&1 &
BS_PID=$!
PIDS+=("$BS_PID")
wait_for "baresip on TLS" 10 sh -c "ss -Hltn 'sport = :$BS_TLS' | grep -q ."
refused "(d) a certificate from another CA" 5550100 \
	"unable to get local issuer certificate"
grep -q "INVITE" "$WORK/baresip_rogue.log" && fail "(d) the rogue got an INVITE"
[ "$(json_field "$(ctl --json show connections)" failed)" -ge 2 ] ||
	fail "(d) show connections: $(ctl show connections)"
kill -TERM "$BS_PID"; wait "$BS_PID" 2>/dev/null || true

# (e) tls_verify_client: a client must show a certificate of tls_ca.
kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null || true
sed -i "/^tls_ca = /a tls_verify_client = yes" "$WORK/tollgate.conf"
start_pstnsim
start_gw
cat > "$WORK/options.py" <<'PY'
import socket, ssl, sys
port, ca, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
if cert != "-":
    ctx.load_cert_chain(cert, key)
msg = ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n"
       "Via: SIP/2.0/TLS 127.0.0.1:9;branch=z9hG4bKtlsopt1\r\n"
       "From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\n"
       "Call-ID: tlsopt1@127.0.0.1\r\nCSeq: 1 OPTIONS\r\n"
       "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n" % port).encode()
try:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as raw:
        with ctx.wrap_socket(raw, server_hostname="tollgate.test") as s:
            s.sendall(msg)
            print(s.recv(4096).split(b"\r\n")[0].decode() or "closed")
except (ssl.SSLError, OSError) as e:
    print("refused")
PY
expect_eq "(e) OPTIONS with a client certificate" \
	"$(python3 "$WORK/options.py" "$TLS_PORT" "$PKI/testca.pem" "$PKI/pbx.pem" "$PKI/pbx.key")" \
	"SIP/2.0 200 OK"
expect_eq "(e) OPTIONS without one" \
	"$(python3 "$WORK/options.py" "$TLS_PORT" "$PKI/testca.pem" - -)" refused
wait_for "(e) the refusal in the log" 5 grep -q "tls handshake with 127.0.0.1:[0-9]* failed: peer did not return a certificate" "$WORK/tollgated.log"
log "ok: (e) tls_verify_client refuses a client without a certificate"

cat > "$WORK/sips.py" <<'PY'
import re, socket, ssl, sys
port, ca, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
ctx.load_cert_chain(cert, key)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                    server_hostname="tollgate.test")
buf = b""
def req(method, cseq, to_tag="", body=""):
    hdr = ("%s sips:2125551234@127.0.0.1:%d SIP/2.0\r\n"
           "Via: SIP/2.0/TLS 127.0.0.1:9;branch=z9hG4bKsips%d%s\r\n"
           "From: <sips:2125550000@127.0.0.1>;tag=f1\r\n"
           "To: <sips:2125551234@127.0.0.1>%s\r\nCall-ID: sips1@127.0.0.1\r\n"
           "CSeq: %d %s\r\nContact: <sips:2125550000@127.0.0.1:9>\r\n"
           "Max-Forwards: 70\r\n" % (method, port, cseq, method, to_tag, cseq, method))
    if body:
        hdr += "Content-Type: application/sdp\r\n"
    s.sendall((hdr + "Content-Length: %d\r\n\r\n%s" % (len(body), body)).encode())
def resp():
    global buf
    while True:
        m = re.match(rb"(.*?\r\n\r\n)", buf, re.S)
        if m:
            head = m.group(1)
            n = int(re.search(rb"Content-Length: *(\d+)", head, re.I).group(1))
            if len(buf) >= len(head) + n:
                buf = buf[len(head) + n:]
                return head.decode()
        d = s.recv(65536)
        if not d:
            sys.exit("closed")
        buf += d
sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
       "t=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
req("INVITE", 1, body=sdp)
while True:
    r = resp()
    code = int(r.split()[1])
    if code >= 200:
        break
if code != 200:
    sys.exit("INVITE: %d" % code)
print(re.search(r"^Contact: *(\S+)", r, re.M).group(1))
tag = re.search(r"^To:.*(;tag=[^;\r\n]+)", r, re.M).group(1)
req("ACK", 1, tag)
req("BYE", 2, tag)
while int(resp().split()[1]) < 200:
    pass
PY
expect_eq "(e) a sips: INVITE's Contact" \
	"$(timeout 20 python3 "$WORK/sips.py" "$TLS_PORT" "$PKI/testca.pem" "$PKI/pbx.pem" "$PKI/pbx.key")" \
	"<sips:2125551234@127.0.0.1:$TLS_PORT>"
