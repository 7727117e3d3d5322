#!/usr/bin/env python3
"""tests/integration/dialog_ua.py  A scripted SIP phone for dialog.sh and
session_timer.sh: re-INVITE, UPDATE, glare and session timers, with RTP.

It either calls tollgated (--call NUMBER) or answers one call from it
(--answer), then runs one script (--script).  RTP goes out every 20 ms
from the port our last SDP named, as loud G.711 (a constant non-silence
octet), and every packet that arrives on any of our RTP ports is counted
with its payload type and whether it was loud: pstnsim loops audio back,
so loud packets coming back prove audio flowed both ways.  Each check
prints "ok: ..." or "FAIL: ..." to stdout; the exit status is 1 on any
failure.  Written from RFC 3261/3264/3311/4028; shares no code with
tollgated."""
import argparse
import random
import re
import socket
import sys
import threading
import time

SILENT = {0: (0xFF, 0x7F), 8: (0xD5, 0x55)}
LOUD = {0: 0x20, 8: 0x2A}
failures = 0


def ok(cond, what):
    global failures
    if cond:
        print('ok: ' + what, flush=True)
    else:
        failures += 1
        print('FAIL: ' + what, flush=True)
    return cond


class Msg:
    def __init__(self, data):
        text = data.decode('utf-8', 'replace')
        head, _, self.body = text.partition('\r\n\r\n')
        lines = head.split('\r\n')
        self.start = lines[0]
        self.hdrs = []
        for ln in lines[1:]:
            if ':' in ln:
                k, v = ln.split(':', 1)
                self.hdrs.append((k.strip().lower(), v.strip()))
        parts = self.start.split(' ', 2)
        self.is_req = not parts[0].startswith('SIP/')
        self.method = parts[0] if self.is_req else None
        self.status = int(parts[1]) if not self.is_req else 0

    def h(self, name):
        for k, v in self.hdrs:
            if k == name:
                return v
        return None

    def all(self, name):
        return [v for k, v in self.hdrs if k == name]

    def cseq(self):
        n, m = self.h('cseq').split()
        return int(n), m


def tag_of(v):
    m = re.search(r';\s*tag=([^;>\s]+)', v or '')
    return m.group(1) if m else None


def sdp_info(body):
    """o= session id and version, c= address, m= port and payload types,
    the direction and the rtpmap names."""
    d = {'dir': 'sendrecv', 'pts': [], 'names': {}}
    for ln in body.split('\r\n'):
        if ln.startswith('o='):
            f = ln[2:].split()
            d['sess'], d['ver'] = int(f[1]), int(f[2])
        elif ln.startswith('c='):
            d['addr'] = ln.split()[-1]
        elif ln.startswith('m=audio'):
            f = ln.split()
            d['port'] = int(f[1])
            d['proto'] = f[2]
            d['pts'] = [int(x) for x in f[3:]]
        elif ln.startswith('a=crypto:'):
            d.setdefault('crypto', []).append(ln[9:])
        elif ln.startswith('a=rtpmap:'):
            pt, name = ln[9:].split(' ', 1)
            d['names'][int(pt)] = name
        elif ln[2:] in ('sendrecv', 'sendonly', 'recvonly', 'inactive'):
            d['dir'] = ln[2:]
    return d


class Phone:
    def __init__(self, a):
        self.a = a
        self.ip = a.local_ip
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind((self.ip, a.sip_port))
        self.gw = (a.gw_ip, a.gw_port)
        self.rtp = {}
        for p in a.rtp_ports:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((self.ip, p))
            self.rtp[p] = s
        self.lock = threading.Lock()
        self.rx = []          # (time, port, pt, loud)
        self.tx_port = a.rtp_ports[0]
        self.tx_pt = 0
        self.tx_on = True
        self.remote_media = None
        self.stop = False
        self.queue = []       # requests that came while we waited
        self.cseq = random.randint(1, 1000)
        self.call_id = None
        self.ltag = '%08x' % random.getrandbits(32)
        self.rtag = None
        self.target = None
        self.sess = random.randint(1000, 99999)
        self.ver = 1
        self.uac = True
        for p, s in self.rtp.items():
            threading.Thread(target=self.rtp_rx, args=(p, s),
                             daemon=True).start()
        threading.Thread(target=self.rtp_tx, daemon=True).start()

    # ---- RTP ----------------------------------------------------------
    def rtp_rx(self, port, s):
        s.settimeout(0.2)
        while not self.stop:
            try:
                data, _ = s.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(data) < 12:
                continue
            pt = data[1] & 0x7F
            pay = data[12:]
            sil = SILENT.get(pt, ())
            loud = len(pay) > 0 and sum(
                1 for b in pay if b not in sil) > len(pay) // 2
            with self.lock:
                self.rx.append((time.monotonic(), port, pt, loud))

    def rtp_tx(self):
        seq, ts, ssrc = random.randint(0, 65535), 0, random.getrandbits(32)
        nxt = time.monotonic()
        while not self.stop:
            nxt += 0.02
            rm = self.remote_media
            if rm and self.tx_on:
                hdr = bytes([0x80, self.tx_pt, seq >> 8, seq & 0xFF]) + \
                    ts.to_bytes(4, 'big') + ssrc.to_bytes(4, 'big')
                try:
                    self.rtp[self.tx_port].sendto(
                        hdr + bytes([LOUD[self.tx_pt]]) * 160, rm)
                except OSError:
                    pass
                seq = (seq + 1) & 0xFFFF
            ts = (ts + 160) & 0xFFFFFFFF
            time.sleep(max(0, nxt - time.monotonic()))

    def window(self, settle, length):
        """Packets per port in a window starting @p settle s from now."""
        time.sleep(settle)
        t0 = time.monotonic()
        self.pump(length)
        with self.lock:
            got = [r for r in self.rx if r[0] >= t0]
        out = {}
        for _, port, pt, loud in got:
            e = out.setdefault(port, {'n': 0, 'loud': 0, 'pts': set()})
            e['n'] += 1
            e['loud'] += loud
            e['pts'].add(pt)
        return out

    # ---- SIP ----------------------------------------------------------
    def sdp(self, port, pts=(0,), direction='sendrecv', addr=None,
            bump=True, profile='RTP/AVP', crypto=None):
        if bump:
            self.ver += 1
        addr = addr or self.ip
        names = {0: 'PCMU/8000', 8: 'PCMA/8000'}
        body = ('v=0\r\no=dialog %d %d IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\n'
                't=0 0\r\nm=audio %d %s %s\r\n' %
                (self.sess, self.ver, self.ip, addr, port, profile,
                 ' '.join(str(p) for p in pts)))
        for p in pts:
            body += 'a=rtpmap:%d %s\r\n' % (p, names[p])
        if crypto:
            body += 'a=crypto:%s\r\n' % crypto
        body += 'a=%s\r\n' % direction
        return body

    def use(self, port, pt, remote_sdp):
        """Our RTP now goes from @p port as @p pt to where @p remote_sdp
        says (nothing while that SDP takes no RTP)."""
        self.tx_port, self.tx_pt = port, pt
        d = sdp_info(remote_sdp)
        self.tx_on = d['dir'] in ('sendrecv', 'recvonly')
        self.remote_media = (d['addr'], d['port'])

    def send(self, data):
        self.sip.sendto(data.encode(), self.gw)

    def recv(self, timeout):
        self.sip.settimeout(max(0.01, timeout))
        try:
            data, _ = self.sip.recvfrom(65535)
        except socket.timeout:
            return None
        return Msg(data)

    def headers(self, method, cseq, branch):
        frm = '<sip:%s@%s:%d>;tag=%s' % (self.a.user, self.ip,
                                         self.a.sip_port, self.ltag)
        to = '<%s>' % self.to_uri + (';tag=%s' % self.rtag
                                     if self.rtag else '')
        return ('Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport\r\n'
                'From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n'
                'Contact: <sip:%s@%s:%d>\r\nMax-Forwards: 70\r\n' %
                (self.ip, self.a.sip_port, branch, frm, to, self.call_id,
                 cseq, method, self.a.user, self.ip, self.a.sip_port))

    def request(self, method, body=None, extra='', cseq=None, ruri=None):
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        branch = '%016x' % random.getrandbits(64)
        msg = '%s %s SIP/2.0\r\n' % (method, ruri or self.target)
        msg += self.headers(method, cseq, branch) + extra
        if body:
            msg += 'Content-Type: application/sdp\r\n'
        msg += 'Content-Length: %d\r\n\r\n%s' % (len(body or ''),
                                                  body or '')
        return msg, branch, cseq

    def transact(self, method, body=None, extra='', ruri=None, wait=8.0):
        """Send a request and wait for its final response (requests
        that come meanwhile are queued)."""
        msg, branch, cseq = self.request(method, body, extra, ruri=ruri)
        self.last_branch = branch
        self.send(msg)
        deadline = time.monotonic() + wait
        rtx = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            m = self.recv(min(rtx, deadline) - time.monotonic())
            if m is None:
                if time.monotonic() >= rtx:
                    self.send(msg)
                    rtx = time.monotonic() + 1.0
                continue
            if m.is_req:
                self.queue.append(m)
                continue
            if branch not in (m.h('via') or '') or m.cseq() != (cseq,
                                                                method):
                continue
            if m.status >= 200:
                return m
            rtx = deadline  # a provisional stops retransmissions
        return None

    def ack(self, resp, body=None):
        if not self.rtag:
            self.rtag = tag_of(resp.h('to'))
        c = resp.h('contact')
        if c and self.uac:
            self.target = re.search(r'<([^>]+)>', c).group(1)
        msg, _, _ = self.request('ACK', body, cseq=resp.cseq()[0])
        if resp.status >= 300:
            # RFC 3261 17.1.1.3: the ACK of a failure is hop by hop, in
            # the INVITE's transaction (its branch).
            msg = re.sub(r'branch=z9hG4bK[0-9a-f]+',
                         'branch=z9hG4bK' + self.last_branch, msg)
        self.send(msg)

    def reply(self, req, status, reason, body=None, extra=''):
        to = req.h('to')
        if not tag_of(to):
            to += ';tag=' + self.ltag
        out = 'SIP/2.0 %d %s\r\n' % (status, reason)
        for v in req.all('via'):
            out += 'Via: %s\r\n' % v
        out += ('From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n'
                'Contact: <sip:%s@%s:%d>\r\n' %
                (req.h('from'), to, req.h('call-id'), req.h('cseq'),
                 self.a.user, self.ip, self.a.sip_port)) + extra
        if body:
            out += 'Content-Type: application/sdp\r\n'
        out += 'Content-Length: %d\r\n\r\n%s' % (len(body or ''),
                                                  body or '')
        self.send(out)

    def next_request(self, timeout, method=None):
        """The next request from tollgated with @p method (None: any
        but ACK, 'ANY': any at all); others are dropped."""
        deadline = time.monotonic() + timeout
        while True:
            if self.queue:
                m = self.queue.pop(0)
            else:
                m = self.recv(deadline - time.monotonic())
                if m is None:
                    if time.monotonic() >= deadline:
                        return None
                    continue
            if not m.is_req:
                continue
            if method == 'ANY':
                return m
            if m.method == 'ACK' or method is None or m.method == method:
                if m.method != 'ACK' or method == 'ACK':
                    return m
            if time.monotonic() >= deadline:
                return None

    def pump(self, secs):
        """Let time pass, answering what comes the plain way."""
        deadline = time.monotonic() + secs
        while time.monotonic() < deadline:
            m = self.queue.pop(0) if self.queue else \
                self.recv(deadline - time.monotonic())
            if m is None or not m.is_req or m.method == 'ACK':
                continue
            self.unexpected.append(m.method)
            self.reply(m, 200, 'OK')

    # ---- the call -----------------------------------------------------
    def setup_ids(self, number):
        self.call_id = '%016x@%s' % (random.getrandbits(64), self.ip)
        self.to_uri = 'sip:%s@%s:%d' % (number, *self.gw)
        self.target = self.to_uri
        self.rtag = None
        self.unexpected = []

    def call(self, number, extra=''):
        self.setup_ids(number)
        body = self.sdp(self.a.rtp_ports[0])
        r = self.transact('INVITE', body, extra)
        if not ok(r is not None and r.status == 200,
                  'call answered (%s)' % (r.status if r else 'nothing')):
            return None
        self.ack(r)
        self.use(self.a.rtp_ports[0], 0, r.body)
        return r

    def answer(self, extra=''):
        """Wait for tollgated's INVITE and answer it."""
        self.unexpected = []
        m = self.next_request(20, 'INVITE')
        if not ok(m is not None, 'INVITE from tollgated'):
            return None
        self.take(m)
        body = self.sdp(self.a.rtp_ports[0])
        self.reply(m, 200, 'OK', body, extra)
        a = self.next_request(5, 'ACK')
        ok(a is not None, 'ACK for our 200')
        self.use(self.a.rtp_ports[0], 0, m.body)
        return m

    def take(self, m):
        """The dialog of tollgated's INVITE @p m, on our side."""
        self.uac = False
        self.unexpected = []
        self.call_id = m.h('call-id')
        self.rtag = tag_of(m.h('from'))
        self.to_uri = re.search(r'<([^>]+)>', m.h('from')).group(1)
        self.target = re.search(r'<([^>]+)>', m.h('contact')).group(1)
        self.cseq = 100

    def response(self, branch, status, timeout):
        """The next response with @p status in transaction @p branch."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.recv(deadline - time.monotonic())
            if m is None:
                continue
            if m.is_req:
                self.queue.append(m)
            elif branch in (m.h('via') or '') and m.status == status:
                return m
        return None

    def bye(self):
        r = self.transact('BYE')
        ok(r is not None and r.status == 200, 'BYE answered 200')


# ---- scripts -------------------------------------------------------------

def media_checks(ph, what, port, settle=0.4, length=1.2, pt=0):
    w = ph.window(settle, length)
    got = w.get(port, {'n': 0, 'loud': 0, 'pts': set()})
    ok(got['n'] >= 40 and got['loud'] >= 30 and got['pts'] == {pt},
       '%s: RTP to port %d, PT %d, loud (audio went round): %d packets, '
       '%d loud, PTs %s' % (what, port, pt, got['n'], got['loud'],
                            sorted(got['pts'])))
    others = sum(v['n'] for p, v in w.items() if p != port)
    ok(others == 0, '%s: no RTP to our other ports (%d)' % (what, others))


def no_media(ph, what, settle=0.4, length=1.2):
    w = ph.window(settle, length)
    n = sum(v['n'] for v in w.values())
    ok(n == 0, '%s: tollgated sends no RTP (%d packets)' % (what, n))


def reoffer(ph, what, body, method='INVITE'):
    """A re-INVITE/UPDATE with @p body; returns the answer's SDP info."""
    r = ph.transact(method, body)
    if not ok(r is not None and r.status == 200,
              '%s: %s answered 200 (%s)' % (what, method,
                                            r.status if r else 'nothing')):
        return None
    if method == 'INVITE':
        ph.ack(r)
    ok(r.h('content-type') == 'application/sdp',
       '%s: the 200 has an SDP answer' % what)
    return r


def script_media(ph, a):
    r = ph.call(a.number)
    if not r:
        return
    first = sdp_info(r.body)
    A, B = a.rtp_ports[0], a.rtp_ports[1]
    media_checks(ph, 'first offer', A)
    ver = first['ver']

    def check_answer(what, r, direction, pt=0):
        nonlocal ver
        d = sdp_info(r.body)
        ok(d['sess'] == first['sess'], '%s: same o= session id' % what)
        ok(d['ver'] == ver + 1, '%s: o= version one up (%d -> %d)' %
           (what, ver, d['ver']))
        ver = d['ver']
        ok(d['dir'] == direction, '%s: answer is %s (%s)' %
           (what, direction, d['dir']))
        ok(d['pts'] == [pt], '%s: answer has PT %d (%s)' %
           (what, pt, d['pts']))
        return d

    # New address: RTP follows it.
    r = reoffer(ph, 'new port', ph.sdp(B))
    t200 = time.monotonic()
    if r:
        check_answer('new port', r, 'sendrecv')
        ph.use(B, 0, r.body)
        media_checks(ph, 'after the move', B)
        with ph.lock:
            old = [t for t, p, _, _ in ph.rx if p == A and t >= t200 - 1]
            new = [t for t, p, _, _ in ph.rx if p == B]
        # How long after the 200 the stream moved (the 200 comes first,
        # then the bridge is told: a packet or two may still be due).
        print('measured: after the 200, last RTP to the old port %+.1f ms, '
              'first to the new one %+.1f ms' %
              (((max(old) - t200) * 1000) if old else float('nan'),
               ((min(new) - t200) * 1000) if new else float('nan')),
              flush=True)
        ok(not old or max(old) - t200 < 0.1,
           'nothing to the old port 100 ms after the 200')
        ok(new and min(new) - t200 < 0.1,
           'RTP to the new port within 100 ms of the 200')
    # Hold (RFC 3264 8.4): sendonly -> recvonly, nothing sent to us.
    r = reoffer(ph, 'hold', ph.sdp(B, direction='sendonly'))
    if r:
        check_answer('hold', r, 'recvonly')
        no_media(ph, 'on hold')
    # Resume.
    r = reoffer(ph, 'resume', ph.sdp(B))
    if r:
        check_answer('resume', r, 'sendrecv')
        ph.use(B, 0, r.body)
        media_checks(ph, 'resumed', B)
    # Codec change to A-law.
    r = reoffer(ph, 'to PCMA', ph.sdp(B, pts=(8,)))
    if r:
        check_answer('to PCMA', r, 'sendrecv', pt=8)
        ph.use(B, 8, r.body)
        media_checks(ph, 'in PCMA', B, pt=8)
    # Inactive.
    r = reoffer(ph, 'inactive', ph.sdp(B, pts=(8,), direction='inactive'))
    if r:
        check_answer('inactive', r, 'inactive', pt=8)
        ph.tx_on = False
        no_media(ph, 'inactive')
    # A re-INVITE without an offer: tollgated offers, we answer in ACK.
    r = ph.transact('INVITE')
    if ok(r is not None and r.status == 200 and r.body,
          'offer-less re-INVITE: 200 with an offer'):
        d = sdp_info(r.body)
        ok(d['ver'] == ver + 1 and d['dir'] == 'sendrecv' and
           d['pts'][:1] == [8] and 0 in d['pts'],
           'offer-less re-INVITE: its offer is sendrecv, PCMA first then '
           'PCMU, version one up (%s)' % d)
        ver = d['ver']
        ph.ack(r, ph.sdp(A, pts=(0,)))
        ph.use(A, 0, r.body)
        media_checks(ph, 'answer in the ACK', A)
    # RFC 2543 hold: c=0.0.0.0.
    r = reoffer(ph, 'c=0.0.0.0', ph.sdp(A, addr='0.0.0.0'))
    if r:
        check_answer('c=0.0.0.0', r, 'recvonly')
        no_media(ph, 'c=0.0.0.0 hold')
    # UPDATE with an offer (RFC 3311).
    r = reoffer(ph, 'UPDATE', ph.sdp(B), method='UPDATE')
    if r:
        check_answer('UPDATE', r, 'sendrecv')
        ph.use(B, 0, r.body)
        media_checks(ph, 'after UPDATE', B)
    # A lower CSeq than the last one is out of order (RFC 3261 12.2.2).
    ph.cseq -= 5
    r = ph.transact('UPDATE', ph.sdp(A))
    ok(r is not None and r.status == 500,
       'UPDATE with an old CSeq: 500 (%s)' % (r.status if r else None))
    ph.cseq += 10
    ok(not ph.unexpected, 'no unexpected requests (%s)' % ph.unexpected)
    ph.bye()


def script_uas_hold(ph, a):
    """PSTN -> SIP: the SIP callee holds and resumes."""
    m = ph.answer()
    if not m:
        return
    A, B = a.rtp_ports[0], a.rtp_ports[1]
    first = None
    media_checks(ph, 'callee: first answer', A)
    r = reoffer(ph, 'callee hold', ph.sdp(A, direction='inactive'))
    if r:
        first = sdp_info(r.body)
        ok(first['dir'] == 'inactive', 'callee hold: answer inactive')
        no_media(ph, 'callee hold')
    r = reoffer(ph, 'callee resume on a new port', ph.sdp(B))
    if r:
        d = sdp_info(r.body)
        ok(first is None or d['ver'] == first['ver'] + 1,
           'callee resume: version one up')
        ok(d['dir'] == 'sendrecv', 'callee resume: sendrecv')
        ph.use(B, 0, r.body)
        media_checks(ph, 'callee resumed', B)
    ph.bye()


def script_relay(ph, a):
    """SIP -> SIP: the caller's re-INVITEs are answered by tollgated and
    only move the relay's side toward the caller."""
    r = ph.call(a.number)
    if not r:
        return
    A, B = a.rtp_ports[0], a.rtp_ports[1]
    media_checks(ph, 'relay', A)
    r = reoffer(ph, 'relay: new port', ph.sdp(B))
    if r:
        ph.use(B, 0, r.body)
        media_checks(ph, 'relay: moved', B)
    r = reoffer(ph, 'relay: hold', ph.sdp(B, direction='inactive'))
    if r:
        ok(sdp_info(r.body)['dir'] == 'inactive', 'relay: answer inactive')
        no_media(ph, 'relay: held')
    r = reoffer(ph, 'relay: resume', ph.sdp(B))
    if r:
        ph.use(B, 0, r.body)
        media_checks(ph, 'relay: resumed', B)
    ph.bye()


RR = ['<sip:rr1.invalid;lr>', '<sip:rr2.invalid;lr>']


def routes(m, name='route'):
    """A message's Route (or Record-Route) values, in order."""
    out = []
    for v in m.all(name):
        out += [x.strip() for x in v.split(',') if x.strip()]
    return out


def se_of(m):
    v = m.h('session-expires') or ''
    n = re.match(r'\s*(\d+)', v)
    r = re.search(r'refresher=(\w+)', v)
    return (int(n.group(1)) if n else None, r.group(1) if r else None)


def script_refresh_update(ph, a):
    """We support UPDATE and ask tollgated to refresh: UPDATEs at half
    the interval, without a body, twice."""
    se = a.se
    r = ph.call(a.number, 'Supported: timer\r\nAllow: INVITE, ACK, BYE, '
                'CANCEL, UPDATE\r\nSession-Expires: %d;refresher=uas\r\n'
                'Record-Route: %s\r\n' % (se, ', '.join(RR)))
    if not r:
        return
    ok(routes(r, 'record-route') == RR, 'the 200 copies Record-Route (%s)' %
       routes(r, 'record-route'))
    ok(se_of(r) == (se, 'uas'), '200 says Session-Expires %d;refresher=uas '
       '(%s)' % (se, se_of(r)))
    ok('timer' in (r.h('require') or ''), '200 has Require: timer')
    t0 = time.monotonic()
    for i in (1, 2):
        m = ph.next_request(se, 'UPDATE')
        if not ok(m is not None, 'refresh %d: UPDATE from tollgated' % i):
            break
        dt = time.monotonic() - t0
        ok(se / 2 - 1 <= dt <= se / 2 + 1.5,
           'refresh %d after %.1f s (half of %d)' % (i, dt, se))
        ok(not m.body, 'refresh %d: UPDATE has no body' % i)
        ok(se_of(m) == (se, 'uac'), 'refresh %d: Session-Expires %d;'
           'refresher=uac (%s)' % (i, se, se_of(m)))
        ok(routes(m) == RR, 'refresh %d: Route set in order (%s)' %
           (i, routes(m)))
        ph.reply(m, 200, 'OK', extra='Require: timer\r\nSession-Expires: '
                 '%d;refresher=uac\r\n' % se)
        t0 = time.monotonic()
    media_checks(ph, 'after the refreshes', a.rtp_ports[0])
    ph.bye()


def script_refresh_glare(ph, a):
    """No UPDATE: tollgated refreshes with a re-INVITE and the same SDP.
    We cross it with ours (491 for us), answer its 491, and it comes
    again within RFC 3261 14.1's 0-2 s."""
    se = a.se
    r = ph.call(a.number, 'Supported: timer\r\nSession-Expires: %d;'
                'refresher=uas\r\n' % se)
    if not r:
        return
    first = sdp_info(r.body)
    m = ph.next_request(se, 'INVITE')
    if not ok(m is not None, 're-INVITE refresh from tollgated'):
        return
    d = sdp_info(m.body)
    ok(d.get('ver') == first['ver'] and d.get('sess') == first['sess'],
       'refresh re-INVITE: the same SDP version (%s, %s)' %
       (d.get('ver'), first['ver']))
    ok(se_of(m) == (se, 'uac'), 'refresh re-INVITE: Session-Expires %d;'
       'refresher=uac' % se)
    # Ours crosses it: glare.
    r = ph.transact('INVITE', ph.sdp(a.rtp_ports[0]))
    ok(r is not None and r.status == 491,
       'our re-INVITE while theirs is pending: 491 (%s)' %
       (r.status if r else None))
    if r is not None and r.status >= 300:
        ph.ack(r)
    ph.reply(m, 491, 'Request Pending')
    ack = ph.next_request(3, 'ACK')
    ok(ack is not None, 'ACK for our 491')
    t = time.monotonic()
    m2 = ph.next_request(4, 'INVITE')
    while m2 is not None and m2.cseq()[0] == m.cseq()[0]:
        m2 = ph.next_request(4, 'INVITE')  # a retransmission
    dt = time.monotonic() - t
    if ok(m2 is not None, 'the re-INVITE came again after the 491'):
        ok(dt <= 2.5, 'again within 0-2 s (%.2f s)' % dt)
        ok(m2.cseq()[0] > m.cseq()[0], 'with a higher CSeq')
        ph.reply(m2, 200, 'OK', ph.sdp(a.rtp_ports[0], bump=False),
                 'Require: timer\r\nSession-Expires: %d;refresher=uac\r\n'
                 % se)
        ok(ph.next_request(3, 'ACK') is not None, 'ACK for our 200')
    media_checks(ph, 'after the glare', a.rtp_ports[0])
    ph.bye()


def script_expire(ph, a):
    """We say we refresh, and never do: tollgated ends the call with a
    BYE carrying Q.850 cause 102 before the interval is over."""
    se = a.se
    r = ph.call(a.number, 'Supported: timer\r\nSession-Expires: %d;'
                'refresher=uac\r\n' % se)
    if not r:
        return
    ok(se_of(r) == (se, 'uac'), '200 leaves the refresh to us (%s)' %
       (se_of(r),))
    t0 = time.monotonic()
    m = ph.next_request(se + 3, 'BYE')
    dt = time.monotonic() - t0
    if ok(m is not None, 'BYE from tollgated'):
        lo = se - min(32, se / 3) - 0.5
        ok(lo <= dt <= se + 0.5, 'BYE after %.1f s (interval %d)' % (dt, se))
        ok('cause=102' in (m.h('reason') or ''),
           'BYE Reason: %s' % m.h('reason'))
        ph.reply(m, 200, 'OK')


def script_422(ph, a):
    """Session-Expires under tollgated's Min-SE: 422 (RFC 4028 8.1)."""
    ph.setup_ids(a.number)
    r = ph.transact('INVITE', ph.sdp(a.rtp_ports[0]),
                    'Supported: timer\r\nSession-Expires: %d\r\n' % a.se)
    ok(r is not None and r.status == 422 and r.h('min-se'),
       'Session-Expires under our Min-SE: 422 with Min-SE %s' %
       (r.h('min-se') if r else None))
    if r is not None:
        ph.ack(r)


def script_prack_in(ph, a):
    """A caller that supports 100rel: tollgated's 183 with SDP is
    reliable, resent until our PRACK, and not after it."""
    ph.setup_ids(a.number)
    msg, branch, cseq = ph.request('INVITE', ph.sdp(a.rtp_ports[0]),
                                   'Supported: 100rel\r\n')
    ph.last_branch = branch
    ph.send(msg)
    r = ph.response(branch, 183, 8)
    if not ok(r is not None and '100rel' in (r.h('require') or '') and
              r.h('rseq') and r.body, '183 with SDP, Require: 100rel and '
              'RSeq'):
        return
    rseq = int(r.h('rseq'))
    ph.rtag = tag_of(r.h('to'))
    ph.target = re.search(r'<([^>]+)>', r.h('contact')).group(1)
    t = time.monotonic()
    r2 = ph.response(branch, 183, 2)
    ok(r2 is not None and int(r2.h('rseq')) == rseq,
       'without a PRACK the 183 comes again (after %.2f s), same RSeq' %
       (time.monotonic() - t))
    r = ph.transact('PRACK', extra='RAck: %d %d INVITE\r\n' %
                    (rseq + 1, cseq))
    ok(r is not None and r.status == 481, 'PRACK for another RSeq: 481 '
       '(%s)' % (r.status if r else None))
    r = ph.transact('PRACK', extra='RAck: %d %d INVITE\r\n' % (rseq, cseq))
    ok(r is not None and r.status == 200, 'PRACK answered 200')
    r3 = ph.response(branch, 183, 1.5)
    ok(r3 is None, 'no 183 after the PRACK')
    r = ph.response(branch, 200, 8)
    if not ok(r is not None, 'INVITE answered 200'):
        return
    ph.ack(r)
    ph.use(a.rtp_ports[0], 0, r.body)
    media_checks(ph, 'after 100rel', a.rtp_ports[0])
    ph.bye()


def script_prack_out(ph, a):
    """Toward a callee: our INVITE supports 100rel and each reliable
    1xx is PRACKed once."""
    m = ph.next_request(20, 'INVITE')
    if not ok(m is not None, 'INVITE from tollgated'):
        return
    ok(any('100rel' in v for v in m.all('supported')),
       'INVITE has Supported: 100rel (%s)' % m.all('supported'))
    ph.take(m)
    icseq = m.cseq()[0]
    body = ph.sdp(a.rtp_ports[0])
    for i, rseq in enumerate((7, 7, 8)):
        ph.reply(m, 183, 'Session Progress', body,
                 'Require: 100rel\r\nRSeq: %d\r\n' % rseq)
        p = ph.next_request(1.5, 'PRACK')
        if i == 1:
            ok(p is None, 'a resent 183 (RSeq 7) is not PRACKed again')
            continue
        want = '%d %d INVITE' % (rseq, icseq)
        ok(p is not None and p.h('rack') == want,
           'reliable 183 RSeq %d PRACKed, RAck %s' %
           (rseq, p.h('rack') if p else None))
        if p is not None:
            ph.reply(p, 200, 'OK')
    ph.reply(m, 200, 'OK', body)
    ok(ph.next_request(5, 'ACK') is not None, 'ACK for our 200')
    ph.use(a.rtp_ports[0], 0, m.body)
    media_checks(ph, 'callee after 100rel', a.rtp_ports[0])
    ph.bye()


def script_uas_timer(ph, a):
    """Toward a callee: our INVITE asks for the timer; a 422 makes it ask
    again for the Min-SE it names; the 200 leaves the refresh to us and
    the refresh (a re-INVITE: we do not allow UPDATE) comes at half."""
    se = a.se
    m = ph.next_request(20, 'INVITE')
    if not ok(m is not None, 'INVITE from tollgated'):
        return
    ok(any('timer' in v for v in m.all('supported')) and
       se_of(m)[0] == se and m.h('min-se') == str(se),
       'INVITE: Supported: timer, Session-Expires %d, Min-SE %d (%s, %s)' %
       (se, se, se_of(m), m.h('min-se')))
    more = se + 2
    ph.take(m)
    ph.reply(m, 422, 'Session Interval Too Small',
             extra='Min-SE: %d\r\n' % more)
    ok(ph.next_request(3, 'ACK') is not None, 'ACK for the 422')
    m2 = ph.next_request(3, 'INVITE')
    if not ok(m2 is not None, 'the INVITE again after the 422'):
        return
    ok(m2.h('call-id') == m.h('call-id') and
       m2.cseq()[0] == m.cseq()[0] + 1 and
       tag_of(m2.h('from')) == tag_of(m.h('from')),
       'same Call-ID and From tag, CSeq one up')
    ok(se_of(m2)[0] == more and m2.h('min-se') == str(more),
       'it asks for %d (%s, Min-SE %s)' % (more, se_of(m2), m2.h('min-se')))
    ph.take(m2)
    ph.reply(m2, 200, 'OK', ph.sdp(a.rtp_ports[0]),
             'Require: timer\r\nSession-Expires: %d;refresher=uac\r\n'
             'Record-Route: %s\r\n' % (more, ', '.join(RR)))
    ack = ph.next_request(3, 'ACK')
    ok(ack is not None and routes(ack) == RR[::-1],
       'ACK for our 200, Route set reversed (%s)' %
       (routes(ack) if ack else None))
    ph.use(a.rtp_ports[0], 0, m2.body)
    t0 = time.monotonic()
    r = ph.next_request(more, 'INVITE')
    dt = time.monotonic() - t0
    if ok(r is not None, 'refresh re-INVITE from tollgated'):
        ok(more / 2 - 1 <= dt <= more / 2 + 1.5,
           'refresh after %.1f s (half of %d)' % (dt, more))
        ok(se_of(r) == (more, 'uac'), 'refresh: Session-Expires %d;'
           'refresher=uac (%s)' % (more, se_of(r)))
        ok(routes(r) == RR[::-1], 'refresh: Route set reversed (%s)' %
           routes(r))
        ph.reply(r, 200, 'OK', ph.sdp(a.rtp_ports[0], bump=False),
                 'Require: timer\r\nSession-Expires: %d;refresher=uac\r\n'
                 % more)
        ok(ph.next_request(3, 'ACK') is not None, 'ACK for our 200')
    media_checks(ph, 'callee after the refresh', a.rtp_ports[0])
    ph.bye()


def script_fork(ph, a):
    """Toward a callee whose INVITE forked: two 200s with different
    tags.  Both are ACKed, the second one's dialog gets a BYE at once,
    and the call goes on in the first one's."""
    m = ph.next_request(20, 'INVITE')
    if not ok(m is not None, 'INVITE from tollgated'):
        return
    ph.take(m)
    body = ph.sdp(a.rtp_ports[0])
    first = ph.ltag
    ph.reply(m, 200, 'OK', body)
    ack1 = ph.next_request(3, 'ACK')
    ok(ack1 is not None and tag_of(ack1.h('to')) == first,
       'the first 200 is ACKed')
    ph.ltag = 'fork%08x' % random.getrandbits(32)
    ph.reply(m, 200, 'OK', ph.sdp(a.rtp_ports[1]))
    got = {}
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline and len(got) < 2:
        r = ph.next_request(deadline - time.monotonic(), 'ANY')
        if r is None:
            break
        if r.method in ('ACK', 'BYE') and tag_of(r.h('to')) == ph.ltag:
            got[r.method] = r
            if r.method == 'BYE':
                ph.reply(r, 200, 'OK')
    ok('ACK' in got and tag_of(got['ACK'].h('to')) == ph.ltag,
       'the other fork\'s 200 is ACKed')
    ok('BYE' in got and tag_of(got['BYE'].h('to')) == ph.ltag,
       'and its dialog gets a BYE')
    ph.ltag = first
    ph.use(a.rtp_ports[0], 0, m.body)
    media_checks(ph, 'the first fork\'s call', a.rtp_ports[0])
    ph.bye()


def script_srtp(ph, a):
    """SDES SRTP (RFC 4568) across re-INVITEs on a trunk with srtp =
    mandatory: the same line keeps our key, a new tag and suite get a new
    line and key, plain RTP is refused (488) and the session stays SRTP.
    Signalling only: this phone does not speak SRTP."""
    import base64
    import os

    def key():
        return base64.b64encode(os.urandom(30)).decode()

    def ours(r):
        d = sdp_info(r.body)
        c = d.get('crypto', [])
        return d, (c[0].split() if len(c) == 1 else None)

    A = a.rtp_ports[0]
    k1 = key()
    ph.setup_ids(a.number)
    first = ph.transact('INVITE', ph.sdp(A, profile='RTP/SAVP', crypto=(
        '1 AES_CM_128_HMAC_SHA1_80 inline:' + k1)))
    if not ok(first is not None and first.status == 200,
              'SRTP call answered'):
        return
    ph.ack(first)
    d, c = ours(first)
    ok(d.get('proto') == 'RTP/SAVP' and c and c[0] == '1' and
       c[1] == 'AES_CM_128_HMAC_SHA1_80',
       'answer: RTP/SAVP with one a=crypto:1 line (%s)' % d.get('crypto'))
    ver = d['ver']
    r = reoffer(ph, 'same crypto', ph.sdp(A, profile='RTP/SAVP', crypto=(
        '1 AES_CM_128_HMAC_SHA1_80 inline:' + k1)))
    if r:
        d2, c2 = ours(r)
        ok(d2['proto'] == 'RTP/SAVP' and c2 == c and d2['ver'] == ver + 1,
           'same line again: our line and key unchanged, version one up')
        ver = d2['ver']
    r = reoffer(ph, 'new crypto', ph.sdp(A, profile='RTP/SAVP', crypto=(
        '2 AES_CM_128_HMAC_SHA1_32 inline:' + key())))
    if r:
        d3, c3 = ours(r)
        ok(c3 and c3[0] == '2' and c3[1] == 'AES_CM_128_HMAC_SHA1_32' and
           c and c3[2] != c[2],
           'a new tag and suite: answered with them and a new key (%s)' %
           d3.get('crypto'))
        c = c3
    r = ph.transact('INVITE', ph.sdp(A))
    ok(r is not None and r.status == 488,
       'a plain RTP/AVP re-offer on an SRTP call: 488 (%s)' %
       (r.status if r else None))
    if r is not None and r.status >= 300:
        ph.ack(r)
    r = reoffer(ph, 'SRTP hold', ph.sdp(A, profile='RTP/SAVP', crypto=(
        '2 AES_CM_128_HMAC_SHA1_32 inline:' + key()), direction='sendonly'))
    if r:
        d4, c4 = ours(r)
        ok(d4['dir'] == 'recvonly' and c4 == c,
           'SRTP hold: recvonly, our line and key kept (%s)' % d4['dir'])
    ph.bye()


SCRIPTS = {'srtp': script_srtp, 'prack-in': script_prack_in, 'prack-out': script_prack_out,
           'uas-timer': script_uas_timer, 'relay': script_relay,
           'fork': script_fork,
'media': script_media, 'uas-hold': script_uas_hold,
           'refresh-update': script_refresh_update,
           'refresh-glare': script_refresh_glare, 'expire': script_expire,
           '422': script_422}


def parse_args(ap):
    """--gw, --local and --rtp split into what Phone takes."""
    a = ap.parse_args()
    a.gw_ip, p = a.gw.rsplit(':', 1)
    a.gw_port = int(p)
    a.local_ip, p = a.local.rsplit(':', 1)
    a.sip_port = int(p)
    a.rtp_ports = [int(x) for x in a.rtp.split(',')]
    return a


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--gw', required=True, help='IP:PORT of tollgated')
    ap.add_argument('--local', required=True, help='IP:SIPPORT')
    ap.add_argument('--rtp', required=True, help='PORT,PORT')
    ap.add_argument('--script', required=True, choices=sorted(SCRIPTS))
    ap.add_argument('--number', default='2125551234')
    ap.add_argument('--user', default='2125550000')
    ap.add_argument('--se', type=int, default=6)
    a = parse_args(ap)
    ph = Phone(a)
    try:
        SCRIPTS[a.script](ph, a)
    finally:
        ph.stop = True
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
