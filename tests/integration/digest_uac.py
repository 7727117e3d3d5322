#!/usr/bin/env python3
"""tests/integration/digest_uac.py  A small SIP UAC that authenticates with
digest (RFC 7616 / RFC 8760, MD5 or SHA-256, qop=auth), for auth.sh.

It places one call (INVITE, 401 -> ACK, INVITE with Authorization, 200 ->
ACK, BYE) and prints one line per final response it got: "INVITE 401",
"INVITE 200", "BYE 200".  --replay sends, after the call, a new INVITE
(new Call-ID) with the very Authorization that was accepted.  --wait-stale
S sleeps S seconds between the challenge and the answer."""
import argparse
import hashlib
import random
import re
import socket
import sys
import time


def H(alg, s):
    f = hashlib.sha256 if alg == 'SHA-256' else hashlib.md5
    return f(s.encode()).hexdigest()


def params(val):
    out = {}
    for m in re.finditer(r'([A-Za-z-]+)\s*=\s*("([^"\\]|\\.)*"|[^\s,]+)', val):
        v = m.group(2)
        if v.startswith('"'):
            v = re.sub(r'\\(.)', r'\1', v[1:-1])
        out[m.group(1).lower()] = v
    return out


class UAC:
    def __init__(a):
        a.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        a.sock.bind((A.bind, A.port))
        a.sock.settimeout(5)
        a.gw = (A.gw_host, A.gw_port)
        a.lport = a.sock.getsockname()[1]

    def new_call(a):
        a.call_id = '%x@127.0.0.1' % random.getrandbits(64)
        a.tag = '%x' % random.getrandbits(32)
        a.cseq = 1

    def request(a, method, extra='', to_tag='', body='', branch=None):
        # RFC 3261 17.1.1.3: the ACK of a non-2xx has the INVITE's branch.
        branch = branch or 'z9hG4bK%x' % random.getrandbits(48)
        if method == 'INVITE':
            a.inv_branch = branch
        uri = 'sip:%s@%s:%d' % (A.to, A.gw_host, A.gw_port)
        lines = [
            '%s %s SIP/2.0' % (method, uri),
            'Via: SIP/2.0/UDP %s:%d;branch=%s;rport' % (A.bind, a.lport,
                                                         branch),
            'From: <sip:%s@%s:%d>;tag=%s' % (A.caller, A.bind, a.lport, a.tag),
            'To: <sip:%s@%s:%d>%s' % (A.to, A.gw_host, A.gw_port,
                                      ';tag=' + to_tag if to_tag else ''),
            'Call-ID: %s' % a.call_id,
            'CSeq: %d %s' % (a.cseq if method != 'ACK' else a.ack_cseq,
                             method),
            'Contact: <sip:%s@%s:%d>' % (A.caller, A.bind, a.lport),
            'Max-Forwards: 70',
        ]
        if extra:
            lines.append(extra)
        if body:
            lines.append('Content-Type: application/sdp')
        lines.append('Content-Length: %d' % len(body))
        msg = '\r\n'.join(lines) + '\r\n\r\n' + body
        a.sock.sendto(msg.encode(), a.gw)
        return uri, branch

    def sdp(a):
        return ('v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n'
                'c=IN IP4 127.0.0.1\r\nt=0 0\r\n'
                'm=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n' % A.rtp)

    def final(a, method):
        """The next final response to our method: (status, headers)."""
        deadline = time.time() + 10
        while time.time() < deadline:
            data, _ = a.sock.recvfrom(65535)
            text = data.decode(errors='replace')
            head = text.split('\r\n\r\n', 1)[0].split('\r\n')
            if not head[0].startswith('SIP/2.0 '):
                continue
            status = int(head[0].split()[1])
            hdrs = []
            for h in head[1:]:
                k, _, v = h.partition(':')
                hdrs.append((k.strip().lower(), v.strip()))
            cseq = dict(hdrs).get('cseq', '')
            if not cseq.endswith(method) or status < 200:
                continue
            return status, hdrs
        raise SystemExit('timeout waiting for a final to ' + method)

    def to_tag(a, hdrs):
        m = re.search(r';tag=([^;>\s]+)', dict(hdrs)['to'])
        return m.group(1) if m else ''

    def ack(a, status, hdrs):
        a.ack_cseq = a.cseq
        a.request('ACK', to_tag=a.to_tag(hdrs),
                  branch=a.inv_branch if status >= 300 else None)

    def authorization(a, hdrs, uri):
        chals = [params(v) for k, v in hdrs if k == 'www-authenticate']
        print('CHALLENGES ' + ' '.join(c.get('algorithm', 'MD5') +
                                       ('(stale)' if c.get('stale') == 'true'
                                        else '') for c in chals))
        ch = next(c for c in chals if c.get('algorithm', 'MD5') == A.alg)
        alg = A.alg
        cnonce = '%x' % random.getrandbits(32)
        nc = '00000001'
        ha1 = H(alg, '%s:%s:%s' % (A.user, ch['realm'], A.password))
        if A.other_uri:
            uri = uri.replace(A.to, A.to[:-1] + '9')
        ha2 = H(alg, 'INVITE:' + uri)
        resp = H(alg, ':'.join([ha1, ch['nonce'], nc, cnonce, 'auth', ha2]))
        return ('Authorization: Digest username="%s", realm="%s", '
                'nonce="%s", uri="%s", response="%s", algorithm=%s, '
                'opaque="%s", qop=auth, nc=%s, cnonce="%s"' %
                (A.user, ch['realm'], ch['nonce'], uri, resp, alg,
                 ch.get('opaque', ''), nc, cnonce))

    def run(a):
        a.new_call()
        uri, _ = a.request('INVITE', body=a.sdp())
        status, hdrs = a.final('INVITE')
        print('INVITE %d' % status)
        auth = None
        tries = 0
        while status == 401 and tries < 2:
            tries += 1
            a.ack(status, hdrs)
            auth = a.authorization(hdrs, uri)
            if A.wait_stale and tries == 1:
                time.sleep(A.wait_stale)
            a.cseq += 1
            a.request('INVITE', extra=auth, body=a.sdp())
            status, hdrs = a.final('INVITE')
            print('INVITE %d' % status)
        if status >= 300:
            a.ack(status, hdrs)
            return
        a.ack(status, hdrs)
        time.sleep(A.hold)
        a.cseq += 1
        a.request('BYE', to_tag=a.to_tag(hdrs))
        status, _ = a.final('BYE')
        print('BYE %d' % status)
        if A.replay and auth:
            a.new_call()
            a.request('INVITE', extra=auth, body=a.sdp())
            status, hdrs = a.final('INVITE')
            print('REPLAY %d' % status)
            a.ack(status, hdrs)


ap = argparse.ArgumentParser()
ap.add_argument('--gw-host', default='127.0.0.1')
ap.add_argument('--gw-port', type=int, required=True)
ap.add_argument('--bind', default='127.0.0.1')
ap.add_argument('--port', type=int, default=0)
ap.add_argument('--rtp', type=int, default=40000)
ap.add_argument('--user', required=True)
ap.add_argument('--password', required=True)
ap.add_argument('--alg', default='SHA-256', choices=['SHA-256', 'MD5'])
ap.add_argument('--to', required=True)
ap.add_argument('--caller', default='2125550000')
ap.add_argument('--hold', type=float, default=0.3)
ap.add_argument('--replay', action='store_true')
ap.add_argument('--wait-stale', type=float, default=0)
ap.add_argument('--other-uri', action='store_true',
                help='answer for another Request-URI (a captured answer)')
A = ap.parse_args()
UAC().run()
sys.stdout.flush()
