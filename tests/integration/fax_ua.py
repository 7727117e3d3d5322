#!/usr/bin/env python3
"""tests/integration/fax_ua.py  The SIP side of fax.sh: a fax machine's
SIP signalling, with faxterm doing the fax itself.

--role answer: answer tollgated's INVITE (a fax from the PSTN) and receive
the page; --role call: call the PSTN through tollgated and send it.  With
--mode t38 we wait for tollgated's re-INVITE to T.38 (it heard CNG or CED)
and answer it with our m=image, then start faxterm over UDPTL; half-way
we re-INVITE with the same T.38 SDP (a refresh: the fax must go on).
With --mode g711 faxterm starts on the audio session at once, and a
re-INVITE to T.38 would be a failure; with --mode refuse we answer the
re-INVITE to T.38 with 488 and fax over G.711; with --mode offer (--role
call) we re-INVITE tollgated to T.38 ourselves.  Built on dialog_ua.py's Phone;
each check prints "ok: ..." or "FAIL: ..."; exit status 1 on a failure."""
import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dialog_ua  # noqa: E402
from dialog_ua import Phone, ok  # noqa: E402


def media_of(body):
    """(address, port, kind) of the first m= line with a port."""
    addr, port, kind = None, None, None
    for ln in body.split('\r\n'):
        if ln.startswith('c='):
            addr = ln.split()[-1]
        elif ln.startswith('m=') and port is None:
            f = ln[2:].split()
            if int(f[1]):
                kind, port = f[0], int(f[1])
    return addr, port, kind


def t38_sdp(ph, port):
    ph.ver += 1
    return ('v=0\r\no=fax %d %d IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\n'
            't=0 0\r\nm=image %d udptl t38\r\na=T38FaxVersion:0\r\n'
            'a=T38MaxBitRate:14400\r\n'
            'a=T38FaxRateManagement:transferredTCF\r\n'
            'a=T38FaxMaxBuffer:1800\r\na=T38FaxMaxDatagram:400\r\n'
            'a=T38FaxUdpEC:t38UDPRedundancy\r\n' %
            (ph.sess, ph.ver, ph.ip, ph.ip, port))


def offer_t38(ph):
    """Our re-INVITE to T.38 (T.38 D.3), before tollgated hears a tone:
    its 200 answers with m=image."""
    r = ph.transact('INVITE', t38_sdp(ph, ph.a.fax_port))
    if not ok(r is not None and r.status == 200, 'our T.38 re-INVITE '
              'answered 200 (%s)' % (r.status if r else 'nothing')):
        return None
    ph.ack(r)
    addr, port, kind = media_of(r.body)
    if not ok(kind == 'image' and 'udptl t38' in r.body,
              'the answer is T.38 (m=%s)' % kind):
        return None
    ok('T38FaxUdpEC:t38UDPRedundancy' in r.body and
       'T38FaxMaxDatagram:400' in r.body,
       'the answer has redundancy and our datagram size')
    return addr, port


def refuse_t38(ph):
    """tollgated's re-INVITE to T.38, refused (T.38 D.3): 488."""
    m = ph.next_request(30, 'INVITE')
    if ok(m is not None and 'm=image' in m.body,
          're-INVITE to T.38 from tollgated'):
        ph.reply(m, 488, 'Not Acceptable Here')


def faxterm(a, mode, remote, send):
    cmd = [a.faxterm, '--local', '%s:%d' % (a.local_ip, a.fax_port),
           '--remote', '%s:%d' % remote, '--' + mode,
           '--send' if send else '--recv', a.file, '--timeout', '90']
    if send:
        cmd.append('--calling')
    print('faxterm: ' + ' '.join(cmd), flush=True)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def wait_t38(ph):
    """tollgated's re-INVITE to T.38: answered with our m=image."""
    m = ph.next_request(30, 'INVITE')
    if not ok(m is not None, 're-INVITE from tollgated'):
        return None
    addr, port, kind = media_of(m.body)
    if not ok(kind == 'image' and 'udptl t38' in m.body,
              're-INVITE offers T.38 (m=%s)' % kind):
        ph.reply(m, 488, 'Not Acceptable Here')
        return None
    ok('T38FaxUdpEC:t38UDPRedundancy' in m.body, 'offer has redundancy')
    ph.reply(m, 200, 'OK', t38_sdp(ph, ph.a.fax_port))
    ok(ph.next_request(5, 'ACK') is not None, 'ACK for our T.38 answer')
    return addr, port


def refresh(ph):
    """A session refresh with the T.38 SDP again, during the fax (once
    more after a 491: tollgated's own refresh may cross it)."""
    r = ph.transact('INVITE', t38_sdp(ph, ph.a.fax_port))
    if r is not None and r.status == 491:
        ph.ack(r)
        time.sleep(0.5)
        r = ph.transact('INVITE', t38_sdp(ph, ph.a.fax_port))
    if ok(r is not None and r.status == 200, 'refresh re-INVITE answered '
          '200 (%s)' % (r.status if r else 'nothing')):
        ph.ack(r)
        ok('m=image' in r.body and 'udptl t38' in r.body,
           'the refresh answer is still T.38')


def run_fax(ph, a, remote, send):
    """faxterm until it ends; meanwhile answer what comes, refresh once
    (T.38) and take the BYE, for up to 5 s after faxterm ends.  True
    when the far end hung up."""
    t38 = a.mode in ('t38', 'offer')
    proc = faxterm(a, 't38' if t38 else 'g711', remote, send)
    start = time.monotonic()
    refreshed = not t38
    bye, ended, theirs = False, None, 0
    while time.monotonic() < start + 110:
        if ended is None and proc.poll() is not None:
            ended = time.monotonic()
        if ended is not None and (bye or time.monotonic() > ended + 5):
            break
        if not refreshed and time.monotonic() > start + 6:
            refresh(ph)
            refreshed = True
        m = ph.next_request(0.2, 'ANY')
        if m is None or m.method == 'ACK':
            continue
        if m.method == 'BYE':
            ph.reply(m, 200, 'OK')
            bye = True
        elif m.method == 'INVITE' and t38:
            # tollgated's session refresh: T.38 still
            ok('m=image' in m.body and 'udptl t38' in m.body,
               "tollgated's refresh offers T.38 again")
            theirs += 1
            ph.reply(m, 200, 'OK', t38_sdp(ph, a.fax_port))
        elif m.method == 'INVITE' and 'm=image' in m.body:
            ok(False, 're-INVITE to T.38 during a G.711 fax')
            ph.reply(m, 488, 'Not Acceptable Here')
        elif m.method == 'INVITE':
            ph.reply(m, 200, 'OK', ph.sdp(a.fax_port))  # a refresh
        else:
            ph.reply(m, 200, 'OK')
    out, _ = proc.communicate(timeout=100)
    print('faxterm: ' + out.strip(), flush=True)
    ok(proc.returncode == 0, 'faxterm finished the fax')
    if a.refreshes:
        ok(theirs >= a.refreshes, 'tollgated refreshed the T.38 session '
           '%d times during the fax' % theirs)
    return bye


def role_answer(ph, a):
    m = ph.next_request(30, 'INVITE')
    if not ok(m is not None, 'INVITE from tollgated'):
        return
    ph.take(m)
    remote = media_of(m.body)[:2]
    ph.reply(m, 200, 'OK', ph.sdp(a.fax_port))
    ok(ph.next_request(5, 'ACK') is not None, 'ACK for our 200')
    if a.mode == 't38':
        remote = wait_t38(ph)
        if remote is None:
            return
    elif a.mode == 'refuse':
        refuse_t38(ph)
    if not run_fax(ph, a, remote, False):
        ph.bye()


def role_call(ph, a):
    ph.setup_ids(a.number)
    r = ph.transact('INVITE', ph.sdp(a.fax_port))
    if not ok(r is not None and r.status == 200, 'call answered (%s)' %
              (r.status if r else 'nothing')):
        return
    ph.ack(r)
    remote = media_of(r.body)[:2]
    if a.mode == 't38':
        remote = wait_t38(ph)
        if remote is None:
            return
    elif a.mode == 'offer':
        remote = offer_t38(ph)
        if remote is None:
            return
    if not run_fax(ph, a, remote, True):
        ph.bye()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--gw', required=True)
    ap.add_argument('--local', required=True)
    ap.add_argument('--rtp', required=True, help="the Phone's PORT,PORT")
    ap.add_argument('--fax-port', type=int, required=True)
    ap.add_argument('--faxterm', required=True)
    ap.add_argument('--mode', choices=('t38', 'g711', 'refuse', 'offer'),
                    required=True)
    ap.add_argument('--role', choices=('answer', 'call'), required=True)
    ap.add_argument('--file', required=True)
    ap.add_argument('--refreshes', type=int, default=0,
                    help="tollgated's refreshes expected during the fax")
    ap.add_argument('--number', default='2125551234')
    ap.add_argument('--user', default='2125550000')
    a = dialog_ua.parse_args(ap)
    ph = Phone(a)
    try:
        (role_answer if a.role == 'answer' else role_call)(ph, a)
    finally:
        ph.stop = True
    sys.exit(1 if dialog_ua.failures else 0)


if __name__ == '__main__':
    main()
