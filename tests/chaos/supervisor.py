"""A supervisor for the chaos run: the three services as `jamsos run SERVICE` processes, each
restarted as soon as it exits, and every exit recorded with its cause.

An exit is ours only when we caused it: a SIGKILL we sent (return code -9 after `kill`), the
crash point a process was started with (`JAMSOS_FAULT`, exit code 86), or the SIGTERM of the
final stop. Anything else is a self-exit: a service that gave up by itself (during an outage,
say), which is a failure of the run even though the supervisor restarts it.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from jamsos.faults import EXIT_CODE
from tests.conftest import clean_env

SERVICES = ("registration", "verification", "billing")
KILLED, FAULT, STOPPED, SELF = "sigkill", "fault", "stopped", "self-exit"


@dataclass
class Incarnation:
    service: str
    number: int
    proc: subprocess.Popen[bytes]
    log: Path
    fault: str | None = None
    killed: bool = False
    stopping: bool = False


@dataclass(frozen=True)
class Exit:
    service: str
    number: int
    returncode: int
    cause: str
    log: Path

    def describe(self) -> str:
        tail = self.log.read_text("utf-8", "replace").splitlines()[-15:]
        return f"{self.service}#{self.number} exited {self.returncode} ({self.cause}); " + (
            "log tail:\n  " + "\n  ".join(tail)
        )


@dataclass
class Supervisor:
    env: dict[str, str]
    workdir: Path
    running: dict[str, Incarnation] = field(default_factory=dict)
    exits: list[Exit] = field(default_factory=list)
    started: int = 0

    @classmethod
    def for_endpoints(
        cls, workdir: Path, bootstrap: str, database_url: str, **extra: str
    ) -> Supervisor:
        env = clean_env(
            JAMSOS_KAFKA_BOOTSTRAP=bootstrap,
            JAMSOS_DATABASE_URL=database_url,
            JAMSOS_STATE_DIR=str(workdir),
            JAMSOS_HTTP_PORT="0",
            **extra,
        )
        return cls(env, workdir)

    def start(self, service: str, fault: str | None = None) -> None:
        self.started += 1
        log = self.workdir / f"{service}-{self.started:03d}.log"
        env = dict(self.env)
        if fault:
            env["JAMSOS_FAULT"] = fault
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "jamsos", "run", service],
                env=env,
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.running[service] = Incarnation(service, self.started, proc, log, fault)

    def kill(self, service: str) -> None:
        """SIGKILL the service's current process (the supervisor restarts it on `reap`)."""
        inc = self.running[service]
        if inc.proc.poll() is None:
            inc.killed = True
            inc.proc.send_signal(signal.SIGKILL)

    def kill_random(self, rng: random.Random) -> str:
        service = rng.choice(SERVICES)
        self.kill(service)
        return service

    def reap(self) -> list[Exit]:
        """Record every process that has exited since the last call and start it again."""
        new = []
        for service, inc in list(self.running.items()):
            code = inc.proc.poll()
            if code is None:
                continue
            if inc.killed and code == -signal.SIGKILL:
                cause = KILLED
            elif inc.fault and code == EXIT_CODE:
                cause = FAULT
            elif inc.stopping and code in (0, -signal.SIGTERM):
                cause = STOPPED
            else:
                cause = SELF
            new.append(Exit(service, inc.number, code, cause, inc.log))
            if not inc.stopping:
                self.start(service)
        self.exits += new
        return new

    def alive(self) -> bool:
        return all(inc.proc.poll() is None for inc in self.running.values())

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM every process (kill what does not stop in time) and record the exits."""
        for inc in self.running.values():
            inc.stopping = True
            if inc.proc.poll() is None:
                inc.proc.send_signal(signal.SIGTERM)
        for inc in self.running.values():
            try:
                inc.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                inc.proc.kill()
                inc.proc.wait()
        self.reap()

    def count(self, cause: str) -> int:
        return sum(1 for e in self.exits if e.cause == cause)

    def self_exits(self) -> list[Exit]:
        return [e for e in self.exits if e.cause == SELF]
