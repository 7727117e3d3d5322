#!/usr/bin/env bash
# tests/integration/pidf_schema.sh  The PIDF-LOs we send are valid RFC
# 3863/4479/4119/5139 documents, and the test schemas are strict enough to
# say when one is not.
#
#  - tests/schema/pidf-lo.xsd (our own schemas, one per namespace) accepts
#    the REFERENCE.md example (tests/integration/pidf/reference.xml, its
#    civic elements in RFC 5139 order) and what e911_pidf() builds for
#    every kind of zone (tests/tools/pidf_dump): every civic field, a
#    provider's location id alone, the least address, a landmark, the XML
#    specials, non-ASCII UTF-8, a lower-case country, bytes that are no
#    UTF-8.
#  - It rejects broken variants of the reference document, each still
#    well-formed XML and each naming the element at fault: civic elements
#    out of order, location-info outside its geopriv, a bad timestamp,
#    geopriv directly under presence, an element RFC 5139 does not know,
#    and more.
. "$(dirname "$0")/lib.sh"
command -v xmllint >/dev/null || { log "SKIP: xmllint not installed"; exit 77; }

XSD=$SRC/tests/schema/pidf-lo.xsd
REF=$SRC/tests/integration/pidf/reference.xml
DUMP=$BUILD/tests/tools/pidf_dump
[ -f "$XSD" ] || fail "no $XSD"
[ -x "$DUMP" ] || fail "no $DUMP (make check builds it)"

valid() { xmllint --noout --schema "$XSD" "$1" >"$WORK/valid.out" 2>&1; }

# ---- what must validate ----------------------------------------------------
valid "$REF" || { cat "$WORK/valid.out" >&2; fail "reference.xml is rejected"; }
log "ok: the REFERENCE.md example validates"

mkdir "$WORK/gen"
"$DUMP" "$WORK/gen" || fail "pidf_dump failed"
n=0
for f in "$WORK"/gen/*.xml; do
	valid "$f" || { cat "$WORK/valid.out" >&2; fail "e911_pidf: $(basename "$f") is rejected"; }
	n=$((n + 1))
done
[ "$n" = 8 ] || fail "pidf_dump wrote $n documents, not 8"
log "ok: the $n PIDF-LOs of e911_pidf() validate"

# The documents hold what the zones had, so the checks above had something
# to check: every civic field we support, the specials escaped and read
# back, UTF-8 kept, the fixes in place.
xv() { xmllint --xpath "string(//*[local-name()='$2'])" "$WORK/gen/$1.xml"; }
xc() { xmllint --xpath "count(//*[local-name()='civicAddress']/*)" "$WORK/gen/$1.xml"; }
expect_eq() { [ "$2" = "$3" ] || fail "$1: '$2', expected '$3'"; }
expect_eq "full: civic elements" "$(xc full)" 21
expect_eq "full: ROOM" "$(xv full ROOM)" E12
expect_eq "locid: civic elements" "$(xc locid)" 1
expect_eq "locid: LOC" "$(xv locid LOC)" BW-LOC-7731
expect_eq "minimal: civic elements" "$(xc minimal)" 5
expect_eq "specials: NAM" "$(xv specials NAM)" "Smith & <Sons> \"HQ\" 'Ltd'"
expect_eq "specials: LOC" "$(xv specials LOC)" "'>\"&<'"
expect_eq "specials: PC" "$(xv specials PC)" "&amp;"
expect_eq "specials: ROOM" "$(xv specials ROOM)" "3A"
expect_eq "specials: entity" "$(xmllint --xpath 'string(/*/@entity)' "$WORK/gen/specials.xml")" "pres:o'brien&co@gw.example"
expect_eq "utf8: A3" "$(xv utf8 A3)" "Zürich"
expect_eq "utf8: RD" "$(xv utf8 RD)" "Bahnhofstraße"
expect_eq "utf8: NAM" "$(xv utf8 NAM)" "東京 € 🚒"
expect_eq "lowercase: country" "$(xv lowercase country)" US
expect_eq "badutf8: A3" "$(xv badutf8 A3)" "Z?rich"
log "ok: the documents carry the zones' values"

# ---- what must be rejected -------------------------------------------------
# reject NAME 'ERROR PATTERN' FILE: FILE differs from its base, is
# well-formed, and the schema refuses it with an error matching PATTERN.
reject() {
	local name=$1 pat=$2 f=$3 base=${4:-$REF}
	cmp -s "$base" "$f" && fail "$name: the variant is the original"
	xmllint --noout "$f" 2>"$WORK/wf.out" ||
		{ cat "$WORK/wf.out" >&2; fail "$name: the variant is not well-formed"; }
	if valid "$f"; then
		fail "$name: the schema accepts it"
	fi
	grep -Eq "$pat" "$WORK/valid.out" ||
		{ cat "$WORK/valid.out" >&2; fail "$name: rejected, not for '$pat'"; }
	log "ok: rejected: $name"
}
v() { echo "$WORK/v-$1.xml"; }

# Civic elements out of order: REFERENCE.md's own order (BLD before FLR).
sed 's|<ca:FLR>3</ca:FLR>|<ca:BLD>A</ca:BLD>&|; s|<ca:BLD>A</ca:BLD><ca:ROOM>|<ca:ROOM>|' \
	"$REF" > "$(v bld-before-flr)"
reject "BLD before FLR" "civicAddr\}FLR': This element is not expected" "$(v bld-before-flr)"
sed 's|<ca:RD>Main</ca:RD><ca:STS>St</ca:STS>|<ca:STS>St</ca:STS><ca:RD>Main</ca:RD>|' \
	"$REF" > "$(v sts-before-rd)"
reject "STS before RD" "civicAddr\}RD'" "$(v sts-before-rd)"
sed 's|<ca:NAM>ACME Corp</ca:NAM>||; s|<ca:ROOM>310</ca:ROOM>|&<ca:NAM>ACME Corp</ca:NAM>|' \
	"$REF" > "$(v nam-last)"
reject "NAM after ROOM" "civicAddr\}NAM'" "$(v nam-last)"
sed 's|<ca:A1>CO</ca:A1>||; s|<ca:A3>Denver</ca:A3>|&<ca:A1>CO</ca:A1>|' \
	"$REF" > "$(v a1-after-a3)"
reject "A1 after A3" "civicAddr\}A1'" "$(v a1-after-a3)"
sed 's|<ca:HNO>1200</ca:HNO>|&<ca:HNO>1202</ca:HNO>|' "$REF" > "$(v two-hno)"
reject "HNO twice" "civicAddr\}HNO'" "$(v two-hno)"
# The same in a document of e911_pidf(): its civic address is one line.
sed 's|<ca:BLD>Tower 1</ca:BLD>||; s|<ca:FLR>|<ca:BLD>Tower 1</ca:BLD>&|' \
	"$WORK/gen/full.xml" > "$(v gen-bld-before-flr)"
reject "e911_pidf() document, BLD before FLR" "civicAddr\}FLR'" \
	"$(v gen-bld-before-flr)" "$WORK/gen/full.xml"

# Elements RFC 5139 does not have, in its namespace.
sed 's|<ca:RD>Main</ca:RD>|&<ca:STREET>Main</ca:STREET>|' "$REF" > "$(v ca-unknown)"
reject "ca:STREET" "civicAddr\}STREET'" "$(v ca-unknown)"
sed 's|<ca:ROOM>310</ca:ROOM>|&<ca:SUITE>9</ca:SUITE>|' "$REF" > "$(v ca-unknown-last)"
reject "ca:SUITE at the end (the extension slot is for other namespaces)" \
	"civicAddr\}SUITE'" "$(v ca-unknown-last)"
sed 's|<ca:country>US</ca:country>|<ca:country>us</ca:country>|' "$REF" > "$(v country-lower)"
reject "country 'us'" "country'.*pattern" "$(v country-lower)"
sed 's|<ca:country>US</ca:country>|<ca:country>USA</ca:country>|' "$REF" > "$(v country-3)"
reject "country 'USA'" "country'.*pattern" "$(v country-3)"
sed 's|xml:lang="en-US"|xml:lang="en_US"|' "$REF" > "$(v lang)"
reject "xml:lang 'en_US'" "lang" "$(v lang)"

# location-info outside its geopriv: moved up into the device, or out to
# the presence; and two of them in one geopriv.
sed -n '/<gp:location-info>/,/<\/gp:location-info>/p' "$REF" > "$WORK/locinfo"
[ "$(wc -l < "$WORK/locinfo")" = 8 ] || fail "location-info block: $(wc -l < "$WORK/locinfo") lines"
sed '/<gp:location-info>/,/<\/gp:location-info>/d' "$REF" |
	sed "/<dm:device id/r $WORK/locinfo" > "$(v locinfo-in-device)"
reject "location-info in the device" "geopriv10\}usage-rules'.*Expected is .*location-info" \
	"$(v locinfo-in-device)"
sed '/<gp:location-info>/,/<\/gp:location-info>/d' "$REF" |
	sed "/<\/dm:device>/r $WORK/locinfo" > "$(v locinfo-in-presence)"
reject "location-info in the presence" "location-info'.*not expected" \
	"$(v locinfo-in-presence)"
sed "/<\/gp:location-info>/r $WORK/locinfo" "$REF" > "$(v two-locinfo)"
reject "two location-info in one geopriv" "location-info'.*not expected.*usage-rules" \
	"$(v two-locinfo)"

# geopriv directly under presence (RFC 5491: in a tuple, device or person).
sed '/<dm:device id/d; /<dm:deviceID>/d; /<dm:timestamp>/d; /<\/dm:device>/d' \
	"$REF" > "$(v geopriv-in-presence)"
reject "geopriv without a device" "geopriv10\}geopriv'.*not expected" \
	"$(v geopriv-in-presence)"

# Timestamps that are no xs:dateTime.
sed 's|2025-06-01T14:03:11Z|2025-06-01 14:03:11|' "$REF" > "$(v ts-space)"
reject "timestamp '2025-06-01 14:03:11'" "timestamp'.*dateTime" "$(v ts-space)"
sed 's|2025-06-01T14:03:11Z|2025-13-01T14:03:11Z|' "$REF" > "$(v ts-month)"
reject "timestamp month 13" "timestamp'.*dateTime" "$(v ts-month)"
sed 's|2025-06-02T00:00:00Z|tomorrow|' "$REF" > "$(v expiry)"
reject "retention-expiry 'tomorrow'" "retention-expiry'.*dateTime" "$(v expiry)"

# Usage rules: required; their elements in basicPolicy's namespace (RFC
# 4119 erratum 1771) and order.  (A usage-rules of only foreign elements
# is valid: its extension slot takes them, as in the RFC's own schema.)
sed '/<gp:usage-rules>/,/<\/gp:usage-rules>/d' "$REF" > "$(v no-usage-rules)"
reject "no usage-rules" "method'.*Expected is .*usage-rules" "$(v no-usage-rules)"
sed 's|gbp:retransmission-allowed|gp:retransmission-allowed|g' "$REF" > "$(v gp-retrans)"
reject "retransmission-allowed in geopriv10's namespace, before retention-expiry" \
	"basicPolicy\}retention-expiry'.*not expected" "$(v gp-retrans)"
sed 's|<gbp:retransmission-allowed>true</gbp:retransmission-allowed>||; s|</gbp:retention-expiry>|&<gbp:retransmission-allowed>true</gbp:retransmission-allowed>|' \
	"$REF" > "$(v retrans-last)"
reject "retransmission-allowed after retention-expiry" \
	"retransmission-allowed'.*not expected" "$(v retrans-last)"
sed 's|>true</gbp:retransmission-allowed>|>yes</gbp:retransmission-allowed>|' \
	"$REF" > "$(v retrans-yes)"
reject "retransmission-allowed 'yes'" "retransmission-allowed'.*boolean" "$(v retrans-yes)"
sed 's|<gp:method>Manual</gp:method>||; s|<gp:usage-rules>|<gp:method>Manual</gp:method>&|' \
	"$REF" > "$(v method-first)"
reject "method before usage-rules" "method'.*not expected" "$(v method-first)"

# The device (RFC 4479): a deviceID, before the timestamp; an xs:ID.
sed '/<dm:deviceID>/d' "$REF" > "$(v no-deviceid)"
reject "no deviceID" "timestamp'.*Expected is .*deviceID" "$(v no-deviceid)"
sed '/<dm:deviceID>/d; s|</dm:timestamp>|&<dm:deviceID>tel:+13035550123</dm:deviceID>|' \
	"$REF" > "$(v deviceid-last)"
reject "deviceID after the timestamp" "deviceID'|timestamp'" "$(v deviceid-last)"
sed 's|<dm:device id="zone-a3">|<dm:device id="3a">|' "$REF" > "$(v device-id)"
reject "device id '3a' (no xs:ID)" "'id'.*(ID|NCName)" "$(v device-id)"
sed 's|<dm:device id="zone-a3">|<dm:device>|' "$REF" > "$(v device-noid)"
reject "device without id" "'id' is required" "$(v device-noid)"
sed 's|entity="pres:+13035550123@gw.acme.example"||' "$REF" > "$(v no-entity)"
reject "presence without entity" "'entity' is required" "$(v no-entity)"

log "PASS"
