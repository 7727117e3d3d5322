#!/usr/bin/env bash
# tests/integration/dns_srv.sh  RFC 3263 trunk names: SRV, NAPTR, A, health
# and failover per target.
#
# dnsmasq serves tg.test.  Trunks named there (tgcall carriers answer on
# 127.0.0.x:5070):
#   carrier  SRV prio 10 sip1 (127.0.0.2, dead at first), prio 20 sip2
#            (127.0.0.3); OPTIONS every second, per target
#   busy     SRV prio 10 sip7 (127.0.0.7 answers 503), prio 20 sip2
#   lb       SRV prio 10 weight 80 wa (127.0.0.4), weight 20 wb (127.0.0.5)
#   nap      NAPTR SIP+D2U -> _sip._udp.napsrv -> sip6 (127.0.0.6); the
#            name has no SRV of its own
#   fixed    sip2.tg.test:5070: a port, so A only
#   ghost    no records at all
#   naptcp   NAPTR order 10 SIP+D2T -> _sip._tcp.tcpsrv -> sipt
#            (127.0.0.12:5082, a TCP server), order 20 SIP+D2U
#   naptls   NAPTR SIPS+D2T -> _sips._tcp.tlssrv -> sipt:5083 (TLS, its
#            certificate names tls.tg.test), then SIP+D2T
#   srvtcp   no NAPTR; _sip._tcp and _sip._udp SRV, no _sips._tcp
#   napudp   the name of naptcp with `transport = udp`
#   badtls   NAPTR SIPS+D2T to sipt:5083 too, whose certificate does not
#            name badtls.tg.test
#   slow     no NAPTR; _sips._tcp is never answered (dnsmasq forwards it
#            to a server that keeps silent), _sip._udp -> sip6
# and "ipc", an IP trunk (127.0.0.8).  The gateway serves UDP, TCP and
# TLS, so names are located for all three unless a trunk says.  Asserted:
#  - the lists: carrier 2 targets by SRV, nap by NAPTR, fixed by A;
#  - the dead preferred target (ICMP port unreachable) fails over at once,
#    the call is answered by the second (no failed call; the CDR has both
#    targets),
#    OPTIONS marks it down, calls then go straight to the second, and it
#    comes back up (and takes the calls) when a carrier listens there;
#  - a 503 from the preferred target: the next target answers;
#  - weights: of 30 calls on lb, wa takes roughly 80%;
#  - NAPTR and A paths carry calls to the right hosts;
#  - transports (RFC 3263 4.1): NAPTR picks TCP and TLS by its order and
#    the INVITE goes over it (Via TCP/TLS, the TLS peer checked against
#    the trunk's name), the CDR target says ";transport=tcp|tls"; without
#    NAPTR, SRV is asked TLS, TCP, UDP and the first with records wins;
#    `transport = udp` takes the SIP+D2U record alone; a TLS target whose
#    certificate names another domain is refused, nothing sent to it;
#  - a name that does not resolve fails over to the next trunk, or fails
#    with 503 / cause 41 when it is the only one;
#  - DNS server dead: the last good targets stay (calls on carrier still
#    work), show trunks says the lookups fail, the IP trunk still works;
#  - a call from a target's address is the named trunk's; from an address
#    no trunk has, 403;
#  - a trunk that registers (regsrv: SRV -> sipr, 127.0.0.11:5072, a SIPp
#    registrar) sends its REGISTER to the SRV target once the name has
#    resolved, with the name (not the address) as the registrar's domain.
. "$(dirname "$0")/lib.sh"

[ -n "${TG_IN_NETNS:-}" ] || { log "SKIP: needs a network namespace"; exit 77; }
command -v dnsmasq >/dev/null || { log "SKIP: dnsmasq not installed"; exit 77; }
command -v openssl >/dev/null || { log "SKIP: openssl not installed"; exit 77; }

P=5070
DNS_PORT=5353
EXTRA="
[trunk ipc]
type = sip
peer = 127.0.0.8:$P
accept_from = 127.0.0.8

[trunk carrier]
type = sip
peer = carrier.tg.test
down_after = 0
options_interval = 1
options_down = 2
options_up = 1
options_timeout = 400

[trunk busy]
type = sip
peer = busy.tg.test

[trunk lb]
type = sip
host = lb.tg.test

[trunk nap]
type = sip
peer = nap.tg.test

[trunk fixed]
type = sip
peer = sip2.tg.test:$P

[trunk ghost]
type = sip
peer = ghost.tg.test

[trunk naptcp]
type = sip
peer = tcp.tg.test

[trunk naptls]
type = sip
peer = tls.tg.test

[trunk srvtcp]
type = sip
peer = st.tg.test

[trunk napudp]
type = sip
peer = tcp.tg.test
transport = udp

[trunk badtls]
type = sip
peer = badtls.tg.test

[trunk slow]
type = sip
peer = slow.tg.test

[trunk regsrv]
type = sip
peer = reg.tg.test
register = yes
register_expires = 60
auth_user = reguser
auth_password = regpass

[dns]
servers = 127.0.0.1:$DNS_PORT
timeout = 300
tries = 1
ttl_min = 1
ttl_max = 2
"
write_conf
# TCP and TLS served: a CA made here signs our certificate and sipt's.
pki_ca ca
pki_cert gw ca "DNS:tollgate.test,IP:127.0.0.1"
pki_cert sipt ca "DNS:tls.tg.test"
sed -i "/^\[sip\]/a tcp = yes\ntls = yes\ntls_port = $(free_udp_port)\ntls_cert = $PKI/gw.pem\ntls_key = $PKI/gw.key\ntls_ca = $PKI/ca.pem" \
	"$WORK/tollgate.conf"

# 127.0.0.99:53 reads DNS queries and answers none (a lost reply).
python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.99", 53))
s.settimeout(1)
end = time.time() + 120
while time.time() < end:
    try:
        s.recv(4096)
    except socket.timeout:
        pass
' 2>>"$WORK/silent.err" &
PIDS+=($!)
dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts --user=root \
	--listen-address=127.0.0.1 --bind-interfaces --port=$DNS_PORT \
	--local=/tg.test/ --local-ttl=1 --log-queries \
	--log-facility="$WORK/dnsmasq.log" \
	--srv-host=_sip._udp.carrier.tg.test,sip1.tg.test,$P,10,50 \
	--srv-host=_sip._udp.carrier.tg.test,sip2.tg.test,$P,20,50 \
	--srv-host=_sip._udp.busy.tg.test,sip7.tg.test,$P,10,50 \
	--srv-host=_sip._udp.busy.tg.test,sip2.tg.test,$P,20,50 \
	--srv-host=_sip._udp.lb.tg.test,wa.tg.test,$P,10,80 \
	--srv-host=_sip._udp.lb.tg.test,wb.tg.test,$P,10,20 \
	--naptr-record=nap.tg.test,10,10,S,SIP+D2U,,_sip._udp.napsrv.tg.test \
	--naptr-record=nap.tg.test,20,10,S,SIP+D2T,,_sip._tcp.napsrv.tg.test \
	--srv-host=_sip._udp.napsrv.tg.test,sip6.tg.test,$P,10,10 \
	--srv-host=_sip._udp.reg.tg.test,sipr.tg.test,5072,10,10 \
	--naptr-record=tcp.tg.test,10,10,S,SIP+D2T,,_sip._tcp.tcpsrv.tg.test \
	--naptr-record=tcp.tg.test,20,10,S,SIP+D2U,,_sip._udp.napsrv.tg.test \
	--srv-host=_sip._tcp.tcpsrv.tg.test,sipt.tg.test,5082,10,10 \
	--naptr-record=tls.tg.test,10,10,S,SIPS+D2T,,_sips._tcp.tlssrv.tg.test \
	--naptr-record=tls.tg.test,10,20,S,SIP+D2T,,_sip._tcp.tcpsrv.tg.test \
	--srv-host=_sips._tcp.tlssrv.tg.test,sipt.tg.test,5083,10,10 \
	--naptr-record=badtls.tg.test,10,10,S,SIPS+D2T,,_sips._tcp.tlssrv.tg.test \
	--srv-host=_sip._tcp.st.tg.test,sipt.tg.test,5082,10,10 \
	--srv-host=_sip._udp.st.tg.test,sip6.tg.test,$P,10,10 \
	--server=/_sips._tcp.slow.tg.test/127.0.0.99 \
	--srv-host=_sip._udp.slow.tg.test,sip6.tg.test,$P,10,10 \
	--host-record=sipt.tg.test,127.0.0.12 \
	--host-record=sipr.tg.test,127.0.0.11 \
	--host-record=sip1.tg.test,127.0.0.2 \
	--host-record=sip2.tg.test,127.0.0.3 \
	--host-record=wa.tg.test,127.0.0.4 \
	--host-record=wb.tg.test,127.0.0.5 \
	--host-record=sip6.tg.test,127.0.0.6 \
	--host-record=sip7.tg.test,127.0.0.7 \
	2> "$WORK/dnsmasq.err" &
DNSMASQ=$!
PIDS+=("$DNSMASQ")
wait_for "dnsmasq" 5 grep -q "started" "$WORK/dnsmasq.log"

answer() { # ADDR LOG [options]: a carrier that answers calls and OPTIONS
	local a=$1 l=$2
	shift 2
	"$TGCALL" answer --local "$a:$P" --count 200 --timeout 90 "$@" \
		>> "$WORK/$l.jsonl" 2>>"$WORK/$l.log" &
	PIDS+=($!)
	LAST_PID=$!
}
answer 127.0.0.3 sip2
answer 127.0.0.4 wa
answer 127.0.0.5 wb
answer 127.0.0.6 sip6
answer 127.0.0.7 sip7 --reject 503
answer 127.0.0.8 ipc

# sipt: SIP over TCP (5082) and TLS (5083); it logs each request with its
# Via and turns INVITEs down with 486 (the CDR then names the target).
cat > "$WORK/sipt.py" <<'PY'
import socket, ssl, sys, threading
host, port, logf = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = None
if len(sys.argv) > 5:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(sys.argv[4], sys.argv[5])
log = open(logf, "a", buffering=1)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port)); srv.listen(8); srv.settimeout(120)
def serve(conn):
    buf = b""
    while True:
        try:
            d = conn.recv(65536)
        except OSError as e:
            log.write("error %s\n" % e); return
        if not d:
            return
        buf += d
        while b"\r\n\r\n" in buf:
            head, rest = buf.split(b"\r\n\r\n", 1)
            lines = head.decode(errors="replace").split("\r\n")
            clen = sum(int(l.split(":", 1)[1]) for l in lines
                       if l.split(":")[0].strip().lower() == "content-length")
            if len(rest) < clen:
                break
            buf = rest[clen:]
            method = lines[0].split(" ")[0]
            via = [l for l in lines if l.startswith("Via:")]
            log.write("%s | %s\n" % (lines[0], via[0] if via else ""))
            if method in ("ACK", "SIP/2.0"):
                continue
            keep = [l + (";tag=sipt" if l.startswith("To:") else "")
                    for l in lines if l.split(":")[0] in
                    ("Via", "From", "To", "Call-ID", "CSeq")]
            code = "486 Busy Here" if method == "INVITE" else "200 OK"
            conn.sendall(("SIP/2.0 %s\r\n%s\r\nContent-Length: 0\r\n\r\n"
                          % (code, "\r\n".join(keep))).encode())
while True:
    try:
        c, _ = srv.accept()
        if ctx:
            c = ctx.wrap_socket(c, server_side=True)
    except socket.timeout:
        break
    except (OSError, ssl.SSLError) as e:
        log.write("handshake %s\n" % e); continue
    log.write("accepted\n")
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
python3 "$WORK/sipt.py" 127.0.0.12 5082 "$WORK/sipt_tcp.log" 2>>"$WORK/sipt.err" &
PIDS+=($!)
python3 "$WORK/sipt.py" 127.0.0.12 5083 "$WORK/sipt_tls.log" \
	"$PKI/sipt.pem" "$PKI/sipt.key" 2>>"$WORK/sipt.err" &
PIDS+=($!)
wait_for "sipt to listen" 5 sh -c "[ \$(ss -Hltn 'src 127.0.0.12' | wc -l) -eq 2 ]"

sipp -sf "$SIPP_DIR/reg_uas_ok.xml" -i 127.0.0.11 -p 5072 -m 1 -nostdin \
	-timeout 30 -trace_msg -message_file "$WORK/sipp_reg.msg.log" \
	> "$WORK/sipp_reg.log" 2>&1 &
SIPP_REG=$!
PIDS+=("$SIPP_REG")
start_pstnsim
start_gw
tgctl() { "$TGCTL" -s "$CTL" --db "$DB" "$@"; }
route() { # NAME MATCH TRUNKS
	tgctl route add "$1" priority=10 kind=prefix match="$2" trunks="$3" \
		t_trying=1000 >/dev/null || fail "route add $1"
}
route r-car 2125551 carrier
route r-busy 2125552 busy
route r-lb 2125553 lb
route r-nap 2125554 nap
route r-fixed 2125555 fixed
route r-ghost 2125556 ghost,ipc
route r-ghost1 2125557 ghost
route r-ip 2125558 ipc
route r-naptcp 21255590 naptcp
route r-naptls 21255591 naptls
route r-srvtcp 21255592 srvtcp
route r-napudp 21255593 napudp
route r-badtls 21255594 badtls
route r-slow 21255595 slow
wait_for "the routes in the snapshot" 10 sh -c \
	"'$TGCTL' -s '$CTL' route explain 2125558000 | grep -q r-ip"

trunk_json() { # NAME: its `show trunks --json` object
	ctl --json show trunks | sed 's/},{"name"/}\n{"name"/g' |
		grep "^.\?{\"name\":\"$1\""
}
ntargets() { trunk_json "$1" | grep -o '"target":' | wc -l; }
how() { trunk_json "$1" | sed -n 's/.*"dns":{"how":"\([a-z]*\)".*/\1/p'; }
target_health() { # TRUNK ADDR: the health of its target at ADDR:port
	trunk_json "$1" | grep -o "{\"target\":\"[^\"]* $2:$P\"[^}]*}" |
		sed -n 's/.*"health":"\([a-z]*\)".*/\1/p'
}
call() { # NUMBER [EXPECT]
	timeout 20 "$TGCALL" call "sip:$1@127.0.0.1:$SIP_PORT" \
		--local "127.0.0.1:$PBX_PORT" --from 2125550000 \
		--expect "${2:-200}" --hold 100 2>>"$WORK/tgcall.log"
}
attempts() { # CALLED: "trunk:outcome[@addr] ..." of its newest CDR
	sql "SELECT group_concat(x, ' ') FROM (SELECT a.trunk || ':' ||
		a.outcome || CASE WHEN a.target LIKE 'dns %' THEN '@dns'
		WHEN a.target LIKE '% %' THEN '@' ||
		substr(a.target, instr(a.target, ' ') + 1) ELSE '' END AS x
		FROM cdr_attempt a JOIN cdr c ON a.cdr_id = c.id
		WHERE c.called = '$1' ORDER BY c.start_ms DESC, a.n LIMIT 8)"
}
ms() { date +%s%3N; }
NCDR=0
next_cdr() { NCDR=$((NCDR + 1)); wait_cdrs "$NCDR"; }

# 1. The lists, by the way each name was located.
has_targets() { [ "$(ntargets "$1")" -eq "$2" ]; }
wait_for "carrier's targets" 5 has_targets carrier 2
wait_for "nap's target" 5 has_targets nap 1
expect_eq "carrier located by" "$(how carrier)" srv
expect_eq "carrier's targets" "$(ntargets carrier)" 2
expect_eq "nap located by" "$(how nap)" naptr
expect_eq "fixed located by" "$(how fixed)" a
expect_eq "lb's targets" "$(ntargets lb)" 2
expect_eq "ghost's targets" "$(ntargets ghost)" 0
grep -q "_sip._udp.napsrv.tg.test" "$WORK/dnsmasq.log" ||
	fail "no SRV query for the NAPTR replacement"
if grep -q "query\[SRV\] _sip._udp.nap.tg.test" "$WORK/dnsmasq.log"; then
	fail "SRV asked for nap although its NAPTR answered"
fi
log "ok: SRV, NAPTR and A paths located their targets"

# 2. The preferred target is dead: the call is answered by the second.
#    Nothing listens there, so ICMP port unreachable ends the INVITE at
#    once (no 1 s attempt timer spent), unless OPTIONS marked it down
#    already.
t0=$(ms)
out=$(call 2125551000) || fail "first carrier call: $out"
t1=$(ms)
[ $((t1 - t0)) -lt 900 ] || fail "the dead target cost $((t1 - t0)) ms"
next_cdr
a=$(attempts 2125551000)
case "$a" in
"carrier:failover: target@127.0.0.2:$P carrier:answered@127.0.0.3:$P" |\
"carrier:answered@127.0.0.3:$P") ;;
*) fail "first carrier call attempts: $a" ;;
esac
log "ok: dead preferred target, answered by the next ($a)"
health_is() { [ "$(target_health "$1" "$2")" = "$3" ]; }
wait_for "sip1 down" 6 health_is carrier 127.0.0.2 down
expect_eq "sip2's health" "$(target_health carrier 127.0.0.3)" up
ctl --json show trunks | grep -q '"name":"carrier".*"health":"up"' ||
	fail "carrier not up with one target up: $(trunk_json carrier)"
ctl show trunks | grep -Eq "^  -> sip1.tg.test:$P 127.0.0.2:$P +prio 10 .* down" ||
	fail "show trunks: $(ctl show trunks)"
grep -q "trunk carrier: target sip1.tg.test:$P 127.0.0.2:$P: down" \
	"$WORK/tollgated.log" || fail "target down not logged"
t0=$(ms)
for n in 2125551001 2125551002; do
	out=$(call $n) || fail "call $n: $out"
done
t1=$(ms)
NCDR=$((NCDR + 1)); next_cdr
expect_eq "attempts with sip1 down" "$(attempts 2125551002)" \
	"carrier:answered@127.0.0.3:$P"
[ $((t1 - t0)) -lt 1800 ] || fail "2 calls took $((t1 - t0)) ms: the down target still cost time"
log "ok: with sip1 down calls go straight to sip2 ($((t1 - t0)) ms for 2)"

# 3. sip1 comes back: up by OPTIONS, and it takes the calls again.
answer 127.0.0.2 sip1
wait_for "sip1 up" 5 health_is carrier 127.0.0.2 up
out=$(call 2125551003) || fail "call with sip1 back: $out"
next_cdr
expect_eq "attempts with sip1 back" "$(attempts 2125551003)" \
	"carrier:answered@127.0.0.2:$P"
log "ok: sip1 back up by OPTIONS and used"

# 4. 503 from the preferred target: the next one answers, no failed call.
out=$(call 2125552000) || fail "busy call: $out"
next_cdr
expect_eq "attempts after a 503" "$(attempts 2125552000)" \
	"busy:failover: target@127.0.0.7:$P busy:answered@127.0.0.3:$P"
expect_eq "the 503 recorded" "$(sql "SELECT a.sip_status FROM cdr_attempt a
	JOIN cdr c ON a.cdr_id = c.id WHERE c.called = '2125552000' AND
	a.n = (SELECT min(n) FROM cdr_attempt WHERE cdr_id = c.id)")" 503
log "ok: a 503 fails over to the next target"

# 5. Weights 80/20 over 30 calls.
timeout 60 "$TGCALL" call "sip:2125553000@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --from 2125550000 --expect 200 \
	--hold 20 --count 30 > "$WORK/lb.jsonl" 2>>"$WORK/tgcall.log" ||
	fail "some of the 30 lb calls failed"
NCDR=$((NCDR + 29)); next_cdr
wa=$(sql "SELECT count(*) FROM cdr_attempt WHERE trunk = 'lb' AND
	outcome = 'answered' AND target LIKE '% 127.0.0.4:%'")
wb=$(sql "SELECT count(*) FROM cdr_attempt WHERE trunk = 'lb' AND
	outcome = 'answered' AND target LIKE '% 127.0.0.5:%'")
expect_eq "lb calls answered" $((wa + wb)) 30
[ "$wa" -ge 17 ] && [ "$wa" -le 29 ] || fail "weights: wa took $wa of 30, wb $wb"
log "ok: weight 80/20: wa took $wa calls, wb $wb"

# 6. NAPTR and A paths carry calls.
out=$(call 2125554000) || fail "nap call: $out"
next_cdr
expect_eq "attempts via NAPTR" "$(attempts 2125554000)" \
	"nap:answered@127.0.0.6:$P"
out=$(call 2125555000) || fail "fixed call: $out"
next_cdr
expect_eq "attempts via A" "$(attempts 2125555000)" \
	"fixed:answered@127.0.0.3:$P"

# 7. A name that does not resolve: the next trunk, or 503 / cause 41.
out=$(call 2125556000) || fail "ghost then ipc: $out"
next_cdr
expect_eq "attempts with ghost unresolved" "$(attempts 2125556000)" \
	"ghost:failover@dns ipc:answered"
expect_eq "ghost's attempt target" "$(sql "SELECT a.target FROM cdr_attempt a
	JOIN cdr c ON a.cdr_id = c.id WHERE c.called = '2125556000' AND
	a.trunk = 'ghost'")" "dns ghost.tg.test: no such name or record"
out=$(call 2125557000 503) || fail "ghost only: $out"
next_cdr
expect_eq "ghost only: status and cause" "$(sql "SELECT sip_status || '/' ||
	q850_cause FROM cdr WHERE called = '2125557000'")" "503/41"
log "ok: an unresolvable name fails over, or fails with 503 (cause 41)"

# 7b. Transports by NAPTR and SRV (RFC 3263 4.1).
target_of() { # TRUNK: its first target's label
	trunk_json "$1" | sed -n 's/.*"targets":\[{"target":"\([^"]*\)".*/\1/p'
}
expect_eq "naptcp located by" "$(how naptcp)" naptr
expect_eq "naptcp's target" "$(target_of naptcp)" \
	"sipt.tg.test:5082 127.0.0.12:5082;transport=tcp"
expect_eq "naptls located by" "$(how naptls)" naptr
expect_eq "naptls's target" "$(target_of naptls)" \
	"sipt.tg.test:5083 127.0.0.12:5083;transport=tls"
expect_eq "srvtcp located by" "$(how srvtcp)" srv
expect_eq "srvtcp's target" "$(target_of srvtcp)" \
	"sipt.tg.test:5082 127.0.0.12:5082;transport=tcp"
expect_eq "napudp located by" "$(how napudp)" naptr
expect_eq "napudp's target" "$(target_of napudp)" "sip6.tg.test:$P 127.0.0.6:$P"
# Without NAPTR our order: TLS asked first, then TCP, which has records.
q=$(grep -o "query\[SRV\] _sip[s]*\._[a-z]*\.st\.tg\.test" "$WORK/dnsmasq.log" |
	head -2 | sed 's/.*\] //' | tr '\n' ' ')
expect_eq "SRV asked for st.tg.test" "$q" "_sips._tcp.st.tg.test _sip._tcp.st.tg.test "
if grep -q "query\[SRV\] _sip._udp.st.tg.test" "$WORK/dnsmasq.log"; then
	fail "_sip._udp asked for st although _sip._tcp had records"
fi
cdr_target() { # CALLED: "target status" of its newest attempt
	sql "SELECT a.target || ' ' || a.sip_status FROM cdr_attempt a
		JOIN cdr c ON a.cdr_id = c.id WHERE c.called = '$1'
		ORDER BY c.start_ms DESC, a.n DESC LIMIT 1"
}
for c in "2125559000 tcp 5082 TCP" "2125559100 tls 5083 TLS" \
	"2125559200 tcp 5082 TCP"; do
	set -- $c
	out=$(call "$1" 486) || fail "call $1 over $2: $out"
	next_cdr
	expect_eq "the CDR target of $1" "$(cdr_target "$1")" \
		"sipt.tg.test:$3 127.0.0.12:$3;transport=$2 486"
	grep -q "^INVITE sip:$1@[^ ]* SIP/2.0 | Via: SIP/2.0/$4 127.0.0.1:" \
		"$WORK/sipt_$2.log" || fail "no INVITE for $1 over $4: $(cat "$WORK/sipt_$2.log")"
done
grep -q "^handshake" "$WORK/sipt_tls.log" && fail "a TLS handshake failed: $(cat "$WORK/sipt_tls.log")"
out=$(call 2125559300) || fail "napudp call: $out"
next_cdr
expect_eq "attempts on napudp" "$(attempts 2125559300)" "napudp:answered@127.0.0.6:$P"
log "ok: NAPTR to TCP and TLS, SRV-only TCP, explicit udp: INVITEs over their transport"
# RFC 5922: the certificate must name the domain the trunk asked for.
out=$(call 2125559400 504) || fail "badtls call: $out"
next_cdr
grep -q "tls connection to 127.0.0.12:5083 failed: certificate verify failed: hostname mismatch" \
	"$WORK/tollgated.log" || fail "badtls: no verify failure in the log"
grep -q "^INVITE sip:2125559400@" "$WORK/sipt_tls.log" &&
	fail "an INVITE went to a TLS target whose certificate names another domain"
expect_eq "badtls: cause" "$(sql "SELECT sip_status || '/' || q850_cause FROM cdr
	WHERE called = '2125559400'")" "504/102"
log "ok: a TLS target whose certificate does not name the trunk's domain is refused"

# RFC 3263 4.1 with a lost answer: _sips._tcp unanswered is no reason to
# give up the name; _sip._tcp and _sip._udp are asked, the UDP target
# carries calls, and the list is marked partial (asked again soon), not
# completed by an A lookup on 5060.
wait_for "slow's target" 5 has_targets slow 1
expect_eq "slow's target" "$(target_of slow)" "sip6.tg.test:$P 127.0.0.6:$P"
grep -q "trunk slow: slow.tg.test located in part (timed out): 1 target" \
	"$WORK/tollgated.log" || fail "slow: no partial location logged"
if grep -q "query\[A\] slow.tg.test" "$WORK/dnsmasq.log"; then
	fail "slow: an A lookup replaced the unanswered SRV"
fi
out=$(call 2125559500) || fail "slow call: $out"
next_cdr
expect_eq "attempts on slow" "$(attempts 2125559500)" "slow:answered@127.0.0.6:$P"
log "ok: an unanswered _sips._tcp SRV falls through to _sip._udp"

# 8. The DNS server dies: the targets stay, lookups are seen failing.
kill "$DNSMASQ"
wait "$DNSMASQ" 2>/dev/null || true
dns_failing() { ctl show trunks | grep -q "dns carrier.tg.test (srv): "; }
wait_for "lookups failing" 6 dns_failing
ctl show trunks > "$WORK/trunks-dns-dead.txt"
expect_eq "carrier's targets with DNS dead" "$(ntargets carrier)" 2
out=$(call 2125551004) || fail "carrier call with DNS dead: $out"
out=$(call 2125558000) || fail "IP trunk call with DNS dead: $out"
NCDR=$((NCDR + 1)); next_cdr
expect_eq "attempts on carrier with DNS dead" "$(attempts 2125551004)" \
	"carrier:answered@127.0.0.2:$P"
expect_eq "attempts on ipc with DNS dead" "$(attempts 2125558000)" \
	"ipc:answered"
out=$(call 2125556001) || fail "ghost then ipc, DNS dead: $out"
next_cdr
expect_eq "ghost with DNS dead" "$(attempts 2125556001)" \
	"ghost:failover@dns ipc:answered"
log "ok: DNS dead: last good targets kept, IP trunk unaffected"

# 9. Requests from a named trunk are known by its targets' addresses (it
#    has no accept_from); an address no trunk has gets 403.
out=$(timeout 20 "$TGCALL" call "sip:2125558001@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.2:5071" --from 2125550000 --expect 200 --hold 100 \
	2>>"$WORK/tgcall.log") || fail "call from carrier's target: $out"
next_cdr
expect_eq "a call from sip1's address comes from" "$(sql "SELECT in_trunk ||
	'>' || out_trunk FROM cdr WHERE called = '2125558001'")" "carrier>ipc"
out=$(timeout 20 "$TGCALL" call "sip:2125558002@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.9:5071" --from 2125550000 --expect 403 \
	2>>"$WORK/tgcall.log") || fail "call from nowhere: $out"
log "ok: a named trunk's calls are known by its targets"

# 10. REGISTER follows the trunk's SRV target (started before the name
#     resolved: it waited for the lookup, not for a back-off).
wait "$SIPP_REG" || fail "the SRV target saw no good REGISTER: $(tail -5 "$WORK/sipp_reg.log")"
grep -q '^REGISTER sip:reg.tg.test SIP/2.0' "$WORK/sipp_reg.msg.log" ||
	fail "REGISTER Request-URI is not the trunk's name: $(grep -m1 '^REGISTER' "$WORK/sipp_reg.msg.log")"
ctl --json show registrations | tr '{' '\n' | grep '"trunk":"regsrv"' |
	grep -q '"state":"registered"' || fail "regsrv: $(ctl show registrations)"
log "ok: REGISTER went to the SRV target, Request-URI sip:reg.tg.test, registered"
log "PASS"
