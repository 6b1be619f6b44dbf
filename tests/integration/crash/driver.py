"""driver.py - runs the load of crash.sh and kills the server under it.

Starts SERVE (the command after --, with PORT in it replaced by a free
port), waits until GET /readyz answers 200, starts the client
(client.py URL TOKEN DIR ACKS), then KILLS times: waits for a random number
of acknowledgements (1 .. the requests / (KILLS + 1)), then a random 0-20 ms,
sends SIGKILL to the server, and starts it again. Leaves the last server
running, its pid in DIR/../serve.pid, and prints one line:
"kills K restarts R client RC url URL".

    python3 driver.py KILLS TOKEN DIR ACKS LOG -- kintsugi serve --listen 127.0.0.1:PORT ...
"""
import os, random, signal, socket, subprocess, sys, time, urllib.request

kills_wanted, token, d, acks, logpath = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
cmd = sys.argv[sys.argv.index("--") + 1:]
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
cmd = [a.replace("PORT", str(port)) for a in cmd]
url = "http://127.0.0.1:%d" % port
log = open(logpath, "ab")
here = os.path.dirname(os.path.abspath(__file__))
nreq = len([f for f in os.listdir(d) if f.startswith("req-")])


def start():
    p = subprocess.Popen(cmd, stdout=log, stderr=log)
    for _ in range(3000):
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1) as r:
                if r.status == 200:
                    return p
        except OSError:
            pass
        if p.poll() is not None:
            return None
        time.sleep(0.01)
    return None


def acked():
    with open(acks, "rb") as f:
        return f.read().count(b"\n")


server = start()
if server is None:
    print("kills 0 restarts 0 client -1 url none")
    sys.exit(1)
open(acks, "w").close()
client = subprocess.Popen([sys.executable, os.path.join(here, "client.py"), url, token, d, acks],
                          stderr=open(logpath + ".client", "wb"))
step = max(1, nreq // (kills_wanted + 1))
kills = restarts = 0
for _ in range(kills_wanted):
    target = acked() + random.randint(1, step)
    while acked() < target and client.poll() is None:
        time.sleep(0.002)
    if client.poll() is not None:
        break
    time.sleep(random.uniform(0, 0.02))
    server.send_signal(signal.SIGKILL)
    server.wait()
    kills += 1
    with open(os.path.join(d, "..", "kills.log"), "a") as f:
        f.write("kill %d after %d acknowledgements\n" % (kills, acked()))
    server = start()
    if server is None:
        break
    restarts += 1
rc = client.wait()
if server is not None:
    with open(os.path.join(d, "..", "serve.pid"), "w") as f:
        f.write(str(server.pid))
print("kills %d restarts %d client %d url %s" % (kills, restarts, rc, url))
