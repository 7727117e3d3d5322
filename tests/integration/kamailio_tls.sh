#!/usr/bin/env bash
# tests/integration/kamailio_tls.sh  SIP over TLS with kamailio (its tls
# module, OpenSSL) as the outbound proxy of a provider: the trunk says
# transport = tls and tls_server_name = proxy.test, and the proxy's
# certificate comes from a CA made here with `openssl req`.  OPTIONS
# probes, a PSTN -> provider call (INVITE over TLS, BYE back along the
# double Record-Route) and a provider -> PSTN call (kamailio opens a TLS
# connection to us) all connect; a proxy certificate the trunk does not
# trust fails the probe with a verify error in the log.  Needs its own
# addresses: runs only in the test's network namespace.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kamailio/common.sh"

[ -n "${TG_IN_NETNS:-}" ] || { log "SKIP: needs a network namespace"; exit 77; }
command -v kamailio >/dev/null || { log "SKIP: no kamailio"; exit 77; }
command -v openssl >/dev/null || { log "SKIP: no openssl"; exit 77; }
kam_addrs

pki_ca testca
pki_cert proxy testca DNS:proxy.test
pki_cert gw testca DNS:gw.test

TLS_PORT=5061
EXTRA="
[trunk provider]
type = sip
peer = 127.0.0.4:5060
outbound_proxy = 127.0.0.3:5061
transport = tls
tls_server_name = proxy.test
accept_from = 127.0.0.3
options_interval = 1
"
write_conf
sed -i "/^\[sip\]/a tls = yes\ntls_port = $TLS_PORT\ntls_cert = $PKI/gw.pem\ntls_key = $PKI/gw.key\ntls_ca = $PKI/testca.pem" \
	"$WORK/tollgate.conf"
mkdir -p "$WORK/kam"
sed -e "s|@PKI@|$PKI|g" -e "s|@TLS_PORT@|$TLS_PORT|g" \
	"$SRC/tests/integration/kamailio/proxy_tls.cfg" > "$WORK/kam/proxy.cfg"
start_kam "$WORK/kam/proxy.cfg" "$WORK/kamailio.log"
wait_for "kamailio to listen on TLS" 10 sh -c "ss -Hltn 'sport = :5061' | grep -q 127.0.0.3"
start_pstnsim
start_gw
provider_dids

# OPTIONS over TLS to the proxy, its certificate checked for proxy.test.
wait_for "an OPTIONS over TLS to the proxy" 10 \
	grep -q 'proxy: OPTIONS sip:127.0.0.3:5061 from tls:127.0.0.1' "$WORK/kamailio.log"
grep -Eq "tls to 127.0.0.3:5061: TLSv1\.[23] " "$WORK/tollgated.log" ||
	fail "no TLS session of ours to kamailio"
log "ok: OPTIONS probes the proxy over TLS (proxy.test verified)"

# PSTN -> provider: over TLS to kamailio, UDP on to SIPp.
pstn_to_provider
expect_eq "PSTN -> provider over TLS answered" "$(json_field "$REC" answered)" true
grep -q 'proxy: INVITE sip:5557001@127.0.0.4:5060 from tls:127.0.0.1' \
	"$WORK/kamailio.log" || fail "the INVITE did not reach kamailio over TLS"
grep -q 'proxy: BYE .* from tls:127.0.0.1' "$WORK/kamailio.log" ||
	fail "our BYE did not go over TLS along the Record-Route"
log "ok: PSTN -> provider: INVITE and BYE over TLS through kamailio"

# Provider -> PSTN: kamailio brings the provider's call over TLS to us.
provider_to_pstn
grep -Eq "tls from 127.0.0.3:[0-9]+: TLSv1\.[23] " "$WORK/tollgated.log" ||
	fail "kamailio's call did not come over TLS"
log "ok: provider -> PSTN: kamailio's TLS connection to us, trunk known by address"

# A proxy certificate from a CA the trunk does not trust: probes fail.
kill -TERM "$KAM_PID"; wait "$KAM_PID" 2>/dev/null || true
pki req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-days 2 -subj "/CN=proxy.test" -addext subjectAltName=DNS:proxy.test \
	-keyout "$PKI/proxy.key" -out "$PKI/proxy.pem"
start_kam "$WORK/kam/proxy.cfg" "$WORK/kamailio2.log"
wait_for "a verify failure toward the self-signed proxy" 15 \
	grep -q "tls connection to 127.0.0.3:5061 failed: certificate verify failed: self-signed certificate" \
	"$WORK/tollgated.log"
grep -q 'proxy: OPTIONS' "$WORK/kamailio2.log" &&
	fail "an OPTIONS reached the untrusted proxy"
log "ok: an untrusted proxy certificate is refused; nothing is sent to it"
