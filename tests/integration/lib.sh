# tests/integration/lib.sh  Shared set-up for integration tests (sourced).
#
# Each test starts its own pstnsim and tollgated, inside a private network
# namespace when it can (root and `unshare -n` work), otherwise on 127.0.0.1
# with free ports.  Every wait is bounded; everything started is stopped by
# PID on exit.
set -euo pipefail

if [ -z "${TG_IN_NETNS:-}" ] && [ "$(id -u)" = 0 ] &&
	unshare -n true 2>/dev/null && command -v ip >/dev/null; then
	export TG_IN_NETNS=1
	exec unshare -n bash -c 'ip link set lo up && exec bash "$0" "$@"' \
		"$0" "$@"
fi

BUILD=${TG_BUILD:-$PWD}
# Absolute: tests cd into $WORK before running peers that read our files.
SRC=$(cd "${srcdir:-$BUILD}" && pwd)
PSTNSIM=$BUILD/pstnsim/pstnsim
TOLLGATED=$BUILD/gateway/tollgated
TGCTL=$BUILD/gateway/tollgatectl
TGCALL=$BUILD/tests/tools/tgcall
SIPP_DIR=$SRC/tests/integration/sipp
NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "/tmp/tg-$NAME.XXXXXX")
RUN=$WORK/run
mkdir -p "$RUN"
PIDS=()
DB=$RUN/tollgate.db
CTL=$RUN/tollgated.ctl

free_udp_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 30000))
		if ! ss -Hlun "sport = :$p" 2>/dev/null | grep -q . &&
			! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return
		fi
	done
	echo "no free port" >&2
	return 1
}

if [ -n "${TG_IN_NETNS:-}" ]; then
	SIP_PORT=5060
	PBX_PORT=5080
	CLI_PORT=5090
	RTP_MIN=20000
else
	SIP_PORT=$(free_udp_port)
	PBX_PORT=$(free_udp_port)
	CLI_PORT=$(free_udp_port)
	RTP_MIN=$((30000 + (RANDOM % 100) * 200))
fi
RTP_MAX=$((RTP_MIN + 1999))

log() { printf '[%s] %s\n' "$NAME" "$*" >&2; }

dump_logs() {
	local f
	for f in "$WORK"/*.log "$WORK"/*.jsonl; do
		[ -f "$f" ] || continue
		echo "---- $f (last 40 lines)" >&2
		tail -n 40 "$f" >&2
	done
}

fail() {
	log "FAIL: $*"
	dump_logs
	exit 1
}

cleanup() {
	local rc=$? pid
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	if [ $rc -eq 0 ] && [ -z "${TG_KEEP:-}" ]; then
		rm -rf "$WORK"
	else
		log "work files kept in $WORK"
	fi
}
trap cleanup EXIT

# Write $WORK/tollgate.conf.  Env: SPANS (1), SPAN_TYPE (t1), DRAIN (5),
# RING_TIMEOUT (60), CODECS (pcmu,pcma), EXTRA (appended lines),
# ECHO_CANCEL (no: pstnsim's default media is a loopback, and the tests
# that listen to it measure that loop; echo.sh turns it on).
write_conf() {
	local n=${SPANS:-1} i spans=""
	{
		cat <<CONF
[general]
log_level = ${LOG_LEVEL:-info}
control_socket = $CTL
drain_timeout = ${DRAIN:-5}
ring_timeout = ${RING_TIMEOUT:-60}

[sip]
bind = 127.0.0.1
port = $SIP_PORT
media_addr = 127.0.0.1
rtp_port_min = $RTP_MIN
rtp_port_max = $RTP_MAX
codecs = ${CODECS:-pcmu,pcma}

[database]
path = $DB

[trunk pbx]
type = sip
peer = 127.0.0.1:$PBX_PORT
accept_from = 127.0.0.1

[routing]
outbound = pstn

[dids]
5550100-5550199 = pbx
CONF
		for i in $(seq 1 "$n"); do
			printf '\n[span %d]\ntype = %s\nswitch = %s\nside = cpe\ndir = %s\necho_cancel = %s\n' \
				"$i" "${SPAN_TYPE:-t1}" "${SWITCH:-ni2}" "$RUN" "${ECHO_CANCEL:-no}"
			spans="$spans${spans:+,}$i"
		done
		printf '\n[trunk pstn]\ntype = tdm\nspans = %s\n' "$spans"
		printf '%s\n' "${EXTRA:-}"
	} > "$WORK/tollgate.conf"
}

# nanp_plans: NANP numbering on the written config: the PBX dials from
# area 212 (7-digit local numbers) and takes national numbers, so does the
# PRI.
nanp_plans() {
	sed -i '/^\[trunk pbx\]/a country_code = 1\nnational_prefix = 1\ninternational_prefix = 011\narea_code = 212\nlocal_length = 7\nnational_length = 10\ncalled_format = national' \
		"$WORK/tollgate.conf"
	sed -i '/^\[trunk pstn\]/a country_code = 1\nnational_prefix = 1\ninternational_prefix = 011\nnational_length = 10' \
		"$WORK/tollgate.conf"
}

# start_pstnsim ARGS...: the telco side; waits for its "ready" line.
start_pstnsim() {
	local type=${SPAN_TYPE:-t1}
	"$PSTNSIM" --dir "$RUN" --spans "${SPANS:-1}" --type "$type" \
		--switch "${SWITCH:-ni2}" "$@" \
		> "$WORK/pstnsim.jsonl" 2> "$WORK/pstnsim.log" &
	PSTN_PID=$!
	PIDS+=("$PSTN_PID")
	for _ in $(seq 1 100); do
		grep -q '"event":"ready"' "$WORK/pstnsim.jsonl" 2>/dev/null &&
			return 0
		kill -0 "$PSTN_PID" 2>/dev/null || fail "pstnsim died at start"
		sleep 0.05
	done
	fail "pstnsim not ready"
}

ctl() { "$TGCTL" -s "$CTL" "$@"; }

# start_gw: tollgated on $WORK/tollgate.conf; waits until every span's
# D-channel is up.
start_gw() {
	[ -f "$WORK/tollgate.conf" ] || write_conf
	"$TOLLGATED" -c "$WORK/tollgate.conf" 2> "$WORK/tollgated.log" &
	GW_PID=$!
	PIDS+=("$GW_PID")
	for _ in $(seq 1 200); do
		if ctl --json show spans 2>/dev/null |
			grep -q '"dchan":"up"' &&
			[ "$(ctl --json show spans 2>/dev/null |
				grep -o '"dchan":"up"' | wc -l)" -eq "${SPANS:-1}" ] &&
			! ctl --json show channels 2>/dev/null |
				grep -q '"state":"restarting"'; then
			# Up, and every idle channel's RESTART acknowledged.
			return 0
		fi
		kill -0 "$GW_PID" 2>/dev/null || fail "tollgated died at start"
		sleep 0.05
	done
	fail "spans did not come up"
}

# The daemon writes the same file (WAL): wait out its locks, as a reader
# of a live gateway's database should.
sql() { sqlite3 -batch -noheader -cmd ".timeout 5000" "$DB" "$1"; }

# wait_for DESC SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local desc=$1 secs=$2 i
	shift 2
	for i in $(seq 1 $((secs * 20))); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.05
	done
	fail "timed out after ${secs}s waiting for $desc"
}

# expect_eq WHAT GOT WANT
expect_eq() {
	if [ "$2" != "$3" ]; then
		fail "$1: got '$2', want '$3'"
	fi
	log "ok: $1 = $3"
}

# The CDR writer commits asynchronously: wait until N rows exist.
# Conditions for wait_for, evaluated on every poll.
span_up() { ctl --json show spans 2>/dev/null | grep -q '"dchan":"up"'; }
pstnsim_calls_ge() { [ "$(grep -c '"event":"call"' "$WORK/pstnsim.jsonl")" -ge "$1" ]; }
cdr_count_ge() { [ "$(sql 'SELECT count(*) FROM cdr')" -ge "$1" ]; }
wait_cdrs() {
	wait_for "$1 CDR rows" "${2:-10}" cdr_count_ge "$1"
}

# tone_wav FILE [RATE] [SECONDS] [HZ]: a mono 16-bit tone (8 kHz, 10 s,
# 1 kHz), written without sox, for baresip's aufile source.
tone_wav() {
	python3 - "$1" "${2:-8000}" "${3:-10}" "${4:-1000}" <<'PY'
import math, struct, sys, wave
rate, secs, hz = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
w = wave.open(sys.argv[1], "wb")
w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
w.writeframes(b"".join(struct.pack("<h", int(10000 * math.sin(2 * math.pi * hz * i / rate))) for i in range(rate * secs)))
w.close()
PY
}

# answer_pbx OUT.json ARGS...: tgcall answers one call as the PBX (in the
# background, its pid in ANS_PID); its JSON line goes to OUT.json.
answer_pbx() {
	local out=$1
	shift
	"$TGCALL" answer --local "127.0.0.1:$PBX_PORT" --count 1 "$@" \
		> "$out" 2>>"$WORK/tgcall.log" &
	ANS_PID=$!
	PIDS+=("$ANS_PID")
}

# json_field JSONLINE FIELD: a scalar field of a flat JSON object.
json_field() {
	printf '%s\n' "$1" | sed -n "s/.*\"$2\":\(\"[^\"]*\"\|[^,}]*\).*/\1/p" |
		tr -d '"'
}

# start_capture FILE [FILTER]: tshark on lo (FILTER, all UDP by default)
# into FILE, its PID in $TSHARK; returns 1 (TSHARK empty) when tshark is
# not installed.
start_capture() {
	TSHARK=
	command -v tshark >/dev/null || return 1
	tshark -q -i lo -f "${2:-udp}" -w "$1" > "$WORK/tshark.log" 2>&1 &
	TSHARK=$!
	PIDS+=("$TSHARK")
	wait_for "tshark to capture" 10 grep -q "Capturing on" "$WORK/tshark.log"
	sleep 1 # "Capturing on" comes a moment before packets are taken
}

# SIP capture of the tests that check what we send decodes cleanly:
# sip_capture_start takes $SIP_PORT into $WORK/sip.pcapng (CAP=1 when
# tshark runs); sip_capture_stop ends it and fails on any malformed or
# erroneous packet; sip_count FILTER is how many packets match FILTER.
sip_capture_start() {
	CAP=
	start_capture "$WORK/sip.pcapng" "udp port $SIP_PORT" && CAP=1
	return 0
}
sip_count() {
	tshark -r "$WORK/sip.pcapng" -d "udp.port==$SIP_PORT,sip" -Y "$1" \
		2>/dev/null | wc -l
}
sip_capture_stop() {
	sleep 0.5
	kill -INT "$TSHARK"
	wait "$TSHARK" || true
	expect_eq "malformed or erroneous packets" \
		"$(sip_count "_ws.malformed || _ws.expert.severity == error")" 0
}

# baresip_setup DIR PORT HZ SECONDS [IP] [CODEC-MODULE] [RATE]: a headless
# baresip in DIR listening on IP:PORT (127.0.0.1) with that codec module
# (g711.so) that sends a HZ tone (mono WAV at RATE, 8000, SECONDS long)
# and records what it hears to DIR/heard.wav; RTP above our range.  The
# caller writes DIR/accounts.
baresip_setup() {
	mkdir -p "$1"
	tone_wav "$1/tone.wav" "${7:-8000}" "$4" "$3"
	cat > "$1/config" <<CONF
poll_method		poll
sip_listen		${5:-127.0.0.1}:$2
net_interface		${5:-127.0.0.1}
audio_player		aufile,$1/heard.wav
audio_source		aufile,$1/tone.wav
audio_alert		aufile,$1/heard-alert.wav
rtp_ports		$((RTP_MAX + 2))-$((RTP_MAX + 200))
module_path		/usr/lib/baresip/modules
module			${6:-g711.so}
module			aufile.so
module			stdio.so
module_app		account.so
module_app		menu.so
CONF
	: > "$1/contacts"
}

# A throwaway PKI in $PKI (made on first use): pki_ca NAME makes a CA
# (NAME.pem, NAME.key); pki_cert NAME CA SAN one certificate it signs,
# for servers and clients, with subjectAltName SAN ("DNS:a.test,IP:...").
pki() { openssl "$@" >>"$WORK/openssl.log" 2>&1 || fail "openssl $1"; }
pki_ca() {
	PKI=${PKI:-$WORK/pki}
	mkdir -p "$PKI"
	pki req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-days 2 -subj "/CN=$1" -keyout "$PKI/$1.key" -out "$PKI/$1.pem" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign
}
pki_cert() {
	pki req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-subj "/CN=$1" -keyout "$PKI/$1.key" -out "$PKI/$1.csr"
	printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' \
		"$3" > "$PKI/$1.ext"
	pki x509 -req -in "$PKI/$1.csr" -CA "$PKI/$2.pem" -CAkey "$PKI/$2.key" \
		-CAcreateserial -days 2 -extfile "$PKI/$1.ext" -out "$PKI/$1.pem"
}
