"""Thespian 4.0.1 side of the benchmark harness: W1-W3 on one system base.

Usage: python workloads.py BASE W1_N W2_N W3_N
Prints one JSON object: {"w1_secs", "w2_secs", "w3_us": [...]}.
The actors do what the Rust ones do: a sender floods a sink that answers
once it has counted N messages, a pinger plays N rounds with a ponger, and
an echo actor is asked N times from outside the system.
"""
import json
import sys
import time

from thespian.actors import Actor, ActorSystem


class Sink(Actor):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.count = 0
        self.expect = None

    def receiveMessage(self, msg, sender):
        if isinstance(msg, dict) and "expect" in msg:
            self.expect = (msg["expect"], sender)
        elif msg == "tick":
            self.count += 1
        if self.expect and self.count >= self.expect[0]:
            self.send(self.expect[1], self.count)
            self.count -= self.expect[0]
            self.expect = None


class Sender(Actor):
    def receiveMessage(self, msg, sender):
        if isinstance(msg, dict) and "run" in msg:
            for _ in range(msg["run"]):
                self.send(msg["to"], "tick")


class Ponger(Actor):
    def receiveMessage(self, msg, sender):
        if msg == "ping":
            self.send(sender, "pong")


class Pinger(Actor):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.left = 0
        self.peer = None
        self.asker = None

    def receiveMessage(self, msg, sender):
        if isinstance(msg, dict) and "pingpong" in msg:
            self.left, self.peer, self.asker = msg["pingpong"], msg["peer"], sender
            self.send(self.peer, "ping")
        elif msg == "pong":
            self.left -= 1
            if self.left == 0:
                self.send(self.asker, "done")
            else:
                self.send(self.peer, "ping")


class Echo(Actor):
    def receiveMessage(self, msg, sender):
        if isinstance(msg, int):
            self.send(sender, msg)


def main():
    base, n1, n2, n3 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    caps = {"Admin Port": int(sys.argv[5])} if len(sys.argv) > 5 else {}
    asys = ActorSystem(base, caps)
    try:
        sink, sender = asys.createActor(Sink), asys.createActor(Sender)
        start = time.perf_counter()
        asys.tell(sender, {"run": n1, "to": sink})
        got = asys.ask(sink, {"expect": n1}, 600)
        w1 = time.perf_counter() - start
        assert got == n1, got
        pinger, ponger = asys.createActor(Pinger), asys.createActor(Ponger)
        start = time.perf_counter()
        got = asys.ask(pinger, {"pingpong": n2, "peer": ponger}, 600)
        w2 = time.perf_counter() - start
        assert got == "done", got
        echo = asys.createActor(Echo)
        w3 = []
        for i in range(n3):
            start = time.perf_counter()
            got = asys.ask(echo, i, 60)
            w3.append((time.perf_counter() - start) * 1e6)
            assert got == i, got
        spawns = min(n3, 50)
        start = time.perf_counter()
        for _ in range(spawns):
            asys.createActor(Echo)
        spawn_us = (time.perf_counter() - start) * 1e6 / spawns
        print(json.dumps({"w1_secs": w1, "w2_secs": w2, "w3_us": w3, "spawn_us": spawn_us}))
    finally:
        asys.shutdown()


if __name__ == "__main__":
    main()
