"""Drives an app-server (kelp's or the real Codex's) through goals and collaboration modes, as
hosts written for Codex 0.169 do, and prints what it answered: a goal set with a small budget
and worked toward until it stops, read back, the server restarted and the thread resumed, the
goal read again and cleared; the modes listed and the thread switched to plan. Run it through
`goals_and_modes.sh`, which gives each server a network of its own with the fake on loopback.

    python3 goals_and_modes.py APP-SERVER-COMMAND...      (PROJECT from the environment)
"""
import json, os, queue, subprocess, sys, threading, time


class Server:
    def __init__(self, command):
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.lines = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(l) for l in self.proc.stdout]
                         + [self.lines.put("")], daemon=True).start()
        self.next_id = 0

    def send(self, method, params=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()
        return self.next_id

    def until(self, done, timeout=30):
        seen, end = [], time.time() + timeout
        while time.time() < end:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if not line:
                break
            message = json.loads(line)
            if message.get("method") and "id" in message:  # a request: accept it
                self.proc.stdin.write(json.dumps({"id": message["id"], "result": {"decision": "accept"}}) + "\n")
                self.proc.stdin.flush()
            seen.append(message)
            if done(message):
                return seen
        raise SystemExit(f"timed out; last: {seen[-3:]}")

    def call(self, method, params=None):
        wanted = self.send(method, params)
        seen = self.until(lambda m: m.get("id") == wanted and "method" not in m)
        answer = seen[-1]
        return answer.get("result", answer.get("error")), seen[:-1]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def start(command):
    server = Server(command)
    server.call("initialize", {"clientInfo": {"name": "goals", "version": "1"},
                               "capabilities": {"experimentalApi": True}})
    server.proc.stdin.write('{"method":"initialized"}\n')
    server.proc.stdin.flush()
    return server


command = sys.argv[1:]
project = os.environ["PROJECT"]
server = start(command)
started, _ = server.call("thread/start", {"cwd": project, "approvalPolicy": "never"})
thread = started["thread"]["id"]
# Codex keeps a goal only on a thread already saved: one turn first.
server.call("turn/start", {"threadId": thread, "input": [{"type": "text", "text": "hello"}]})
server.until(lambda m: m.get("method") == "turn/completed")
goal, _ = server.call("thread/goal/set", {"threadId": thread, "objective": "make the tests pass",
                                          "tokenBudget": 2000})
print("set:", goal.get("goal", goal).get("status") if isinstance(goal, dict) else goal)
seen = server.until(lambda m: m.get("method") == "thread/goal/updated"
                    and m["params"]["goal"]["status"] != "active", timeout=120)
print("turns started on their own:", sum(m.get("method") == "turn/started" for m in seen))
print("stopped as:", seen[-1]["params"]["goal"]["status"])
server.until(lambda m: m.get("method") == "turn/completed")
read, _ = server.call("thread/goal/get", {"threadId": thread})
print("get:", read["goal"]["status"], read["goal"]["objective"])
modes, _ = server.call("collaborationMode/list", {})
print("modes:", [m.get("mode") for m in modes.get("data", [])])
switched, after = server.call("thread/settings/update", {"threadId": thread, "collaborationMode": {
    "mode": "plan", "settings": {"model": "gpt-5.5", "reasoning_effort": None, "developer_instructions": None}}})
print("settings/update:", switched, [m.get("method") for m in after])
server.close()

server = start(command)
server.call("thread/resume", {"threadId": thread})
read, _ = server.call("thread/goal/get", {"threadId": thread})
print("after a restart:", read["goal"]["status"] if read.get("goal") else None)
cleared, seen = server.call("thread/goal/clear", {"threadId": thread})
print("clear:", cleared)
read, _ = server.call("thread/goal/get", {"threadId": thread})
print("get after clear:", read.get("goal"))
server.close()
