"""Drives an app-server (kelp's or the real Codex's) through one turn and prints what it sends,
in order: the answers, the notifications (deltas once per run), and the approval requests, each
answered `accept`. Run it through `turn_order.sh`, which gives each server a network of its own
with the fake server on loopback, so the two can be compared line by line.

    python3 turn_order.py APP-SERVER-COMMAND...      (PROJECT and PROMPT from the environment)
"""
import json, os, queue, subprocess, sys, threading, time

proc = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL, text=True, bufsize=1)
lines = queue.Queue()
threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout] + [lines.put("")],
                 daemon=True).start()
next_id = 0


def send(method, params=None, request=True):
    global next_id
    message = {"method": method}
    if params is not None:
        message["params"] = params
    if request:
        next_id += 1
        message["id"] = next_id
    proc.stdin.write(json.dumps(message) + "\n")
    proc.stdin.flush()
    return message.get("id")


def shown(message):
    params = message.get("params", {})
    method = message["method"]
    if method in ("item/started", "item/completed"):
        return f'{params["item"]["type"]} {params["item"].get("status", "")}'.strip()
    if method == "thread/status/changed":
        return json.dumps(params["status"])
    if method == "turn/completed":
        return params["turn"]["status"]
    return ""


def read_until(done, timeout):
    seen, last, end = [], None, time.time() + timeout
    while time.time() < end:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        if not line:
            break
        message = json.loads(line)
        seen.append(message)
        method = message.get("method")
        if method and "id" in message:
            print("  REQUEST", method, sorted(message.get("params", {})))
            proc.stdin.write(json.dumps({"id": message["id"], "result": {"decision": "accept"}}) + "\n")
            proc.stdin.flush()
        elif method:
            if not (method.endswith("Delta") or method.endswith("/delta")) or method != last:
                print("  NOTIFY", method, shown(message))
            last = method
        else:
            result = message.get("result")
            print("  ANSWER", message.get("id"), "error" if "error" in message else
                  sorted(result) if isinstance(result, dict) else result)
        if done(message):
            break
    return seen


send("initialize", {"clientInfo": {"name": "turn-order", "version": "1"}})
read_until(lambda m: m.get("id") == 1, 30)
send("initialized", request=False)
print("thread/start")
asked = send("thread/start", {"cwd": os.environ.get("PROJECT", os.getcwd()),
                              "approvalPolicy": "untrusted", "sandbox": "workspace-write"})
thread_id = read_until(lambda m: m.get("id") == asked, 30)[-1]["result"]["thread"]["id"]
read_until(lambda m: False, 1.5)
print("turn/start")
send("turn/start", {"threadId": thread_id,
                    "input": [{"type": "text", "text": os.environ.get("PROMPT", "echo hello")}]})
read_until(lambda m: m.get("method") == "turn/completed", 60)
read_until(lambda m: False, 1.5)
proc.stdin.close()
proc.wait(timeout=10)
