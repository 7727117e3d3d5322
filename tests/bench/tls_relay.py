#!/usr/bin/env python3
# tests/bench/tls_relay.py  LISTEN_PORT TARGET_PORT: a TCP -> TLS relay
# on 127.0.0.2, so that SIPp (built without TLS) can load the gateway's
# TLS port: each TCP connection accepted is carried over its own TLS
# connection to 127.0.0.1:TARGET_PORT (no certificate check: the
# benchmark measures the gateway's side).  Prints "ready" when listening.
import asyncio, ssl, sys

LISTEN, TARGET = int(sys.argv[1]), int(sys.argv[2])
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


async def pipe(r, w):
    try:
        while True:
            d = await r.read(65536)
            if not d:
                break
            w.write(d)
            await w.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        w.close()


async def serve(cr, cw):
    tr, tw = await asyncio.open_connection("127.0.0.1", TARGET, ssl=CTX,
                                           local_addr=("127.0.0.2", 0))
    await asyncio.gather(pipe(cr, tw), pipe(tr, cw))


async def main():
    srv = await asyncio.start_server(serve, "127.0.0.2", LISTEN)
    print("ready", flush=True)
    async with srv:
        await srv.serve_forever()

asyncio.run(main())
