"""The chaos run's ledger: the fate of every message sent, and the checks on it.

Plain synchronous code (no trio): the workers, the senders and the dead-letter
subscriber all call it from the one trio thread.

Accounting
==========

Every message the run sends is a `Work` with a unique id. Its events:

* **H** (handled): the worker's handler ran to its end; the worker calls
  `Ledger.handled` as the handler's last statement (no await follows it).
* **D** (dead letter): a `DeadLetter` record whose subject is this very message
  (a tell to a stopped actor, a failed or hung handler, a message drained from
  the mailbox of a stopping actor). Records about the *answer* to an ask the
  asker had given up on ("late reply", "late failure") carry another object as
  ``record.message``: those are **late** records, not a fate of the message.
* **A** (answered, asks only): what the asker got: the value, or the exception
  (type recorded). "Rejected" is an ask refused at the door with `ActorStopped`
  (the actor had stopped: nothing was enqueued, so no H or D can follow).

Exactly one of H or D must happen to every message that was enqueued (its
*fate event*); every ask must get exactly one A. A message is settled (and
forgotten, so the ledger's memory stays flat in a soak) once it has its fate
event and, for an ask, its answer.

Each message is then counted once, by its **final fate**, in this precedence:

* ``handled``: its handler ran to the end (also when the asker had timed out
  before: the late reply is then a dead letter, counted under ``late``);
* ``errored``: an ask whose asker got an error and whose handler never completed
  (it is also in the dead letters, except when rejected at the door);
* ``dead_lettered``: a tell that was never handled (it is in the dead letters).

so ``sent == handled + errored + dead_lettered`` once every message is settled.
The checks that make the balance mean something:

* no fate event for a message that already had one (never handled twice, never
  handled *and* dead-lettered), no second answer to an ask;
* an ask answered with a value was handled, and the value is right; one answered
  with a handler error (``ChaosCrash``, ``MessageTimeout``) or ``ActorStopped``
  is in the dead letters and was not handled; a crash or hang message is never
  handled;
* each late record matches an ask that timed out and was later handled or failed
  (a late ``ActorStopped`` is not recorded by design: the stop already is);
* per sender and worker, handled messages come in the order sent;
* at the end nothing is left open: every tell has a fate, every ask an answer.
"""

from __future__ import annotations

import array
import collections
import math
import random
from typing import Any

import attrs

__all__ = ["ChaosCrash", "Ledger", "Reservoir", "Work"]

#: Modes of a `Work` message.
OK, CRASH, HANG, BLOCK = "ok", "crash", "hang", "block"
#: Modes whose handler is meant to run to its end.
COMPLETING = (OK, BLOCK)
#: Kinds.
TELL, ASK = "tell", "ask"

_MAX_VIOLATIONS_KEPT = 50


class ChaosCrash(Exception):
    """What a worker raises for a message flagged ``crash``."""


@attrs.frozen(slots=True)
class Work:
    """One message of the run: ``id`` is unique; ``mode`` says what the handler does.

    ``cost`` is the seconds the handler sleeps (``trio.sleep``, so virtual time
    works); ``sender`` identifies the sending task or actor, for the order check.
    """

    id: int
    mode: str
    cost: float
    sender: int


class _Open:
    """A message in flight: what is known of it so far."""

    __slots__ = ("answer", "cut", "dl_error", "fate", "kind", "mode", "sender")

    def __init__(self, kind: str, mode: str, sender: int) -> None:
        self.kind = kind
        self.mode = mode
        self.sender = sender
        self.fate: str | None = None  # "H" or "D"
        self.dl_error: str | None = None  # exception type name of the fate dead letter
        self.answer: str | None = None  # "value", "rejected" or an exception type name
        self.cut: float | None = None  # seconds the handler had run when it was cancelled


class Reservoir:
    """A fixed-size uniform sample of floats (exact while fewer than ``size`` came)."""

    def __init__(self, size: int, seed: int) -> None:
        self._values = array.array("d", bytes(8 * size))
        self._size = size
        self._seen = 0
        self._rng = random.Random(seed)

    def add(self, value: float) -> None:
        seen = self._seen
        if seen < self._size:
            self._values[seen] = value
        else:
            slot = self._rng.randrange(seen + 1)
            if slot < self._size:
                self._values[slot] = value
        self._seen = seen + 1

    @property
    def count(self) -> int:
        return self._seen

    def percentile(self, p: float) -> float | None:
        """The ``p``-th percentile (0..100, nearest rank), or None without samples."""
        n = min(self._seen, self._size)
        if n == 0:
            return None
        ordered = sorted(self._values[:n])
        rank = max(1, math.ceil(p / 100 * n))
        return ordered[rank - 1]


class Ledger:
    """Counts every message by its fate and records every broken rule (see module doc)."""

    def __init__(self, *, message_timeout: float = math.inf, reservoir_size: int = 100_000, seed: int = 0) -> None:
        self.message_timeout = message_timeout
        self._next_id = 1
        self.open: dict[int, _Open] = {}
        self.sent: collections.Counter[str] = collections.Counter()  # tell / ask / ok / crash / hang
        self.fates: collections.Counter[str] = collections.Counter()  # handled / errored / dead_lettered
        self.detail: collections.Counter[str] = collections.Counter()  # finer outcomes
        self.answers: collections.Counter[str] = collections.Counter()  # asker outcomes by type
        self.dead_letter_reasons: collections.Counter[str] = collections.Counter()
        self.late_seen = 0
        self.late_expected = 0
        self.other_dead_letters = 0  # dead letters about messages that are not Work
        self.violations: list[str] = []
        self.violation_count = 0
        self.stall_cuts = 0  # ok handlers cut by message_timeout because the loop woke them late
        self.max_cut_overrun = 0.0
        self._last_handled: dict[tuple[int, str], int] = {}
        self.latency_ok = Reservoir(reservoir_size, seed)
        self.latency_all = Reservoir(reservoir_size, seed + 1)
        self.closed = False  # no more messages may be issued

    # -- issuing -----------------------------------------------------------

    def issue(self, kind: str, mode: str, cost: float, sender: int) -> Work:
        """A fresh message with a new id, counted as sent (call just before sending it)."""
        if self.closed:
            raise RuntimeError("the ledger is closed: the load is over")
        ident = self._next_id
        self._next_id = ident + 1
        self.open[ident] = _Open(kind, mode, sender)
        self.sent[kind] += 1
        self.sent[mode] += 1
        return Work(ident, mode, cost, sender)

    @property
    def total_sent(self) -> int:
        return self._next_id - 1

    # -- events ------------------------------------------------------------

    def handled(self, work: Work, worker: str) -> None:
        """H: a worker's handler ran to its end for ``work``."""
        entry = self.open.get(work.id)
        if entry is None or entry.fate is not None:
            self._violation(
                f"message {work.id} ({work.mode}) handled by {worker} after it already had a "
                f"fate ({'settled' if entry is None else entry.fate})"
            )
            return
        if work.mode not in COMPLETING:
            self._violation(f"message {work.id} flagged {work.mode} was handled to its end by {worker}")
        key = (work.sender, worker)
        last = self._last_handled.get(key, 0)
        if work.id <= last:
            self._violation(
                f"order: {worker} handled message {work.id} of sender {work.sender} after "
                f"message {last} of the same sender"
            )
        else:
            self._last_handled[key] = work.id
        entry.fate = "H"
        self._maybe_settle(work.id, entry)

    def cut(self, work: Work, ran: float) -> None:
        """A worker's handler for ``work`` was cancelled after running ``ran`` seconds."""
        entry = self.open.get(work.id)
        if entry is not None:
            entry.cut = ran

    def note(self, text: str) -> None:
        """A broken rule seen outside the ledger (a restart without a failure, say)."""
        self._violation(text)

    def answered(self, ident: int, outcome: Any, error: BaseException | None, latency: float) -> None:
        """A: the asker of ``ident`` got ``outcome`` (a value) or ``error``."""
        entry = self.open.get(ident)
        what = "value" if error is None else type(error).__name__
        if entry is None or entry.answer is not None:
            self._violation(f"ask {ident} answered twice (now {what})")
            return
        if error is None and outcome != ident:
            self._violation(f"ask {ident} answered with the wrong value {outcome!r}")
        entry.answer = what
        self.answers[what] += 1
        self.latency_all.add(latency)
        if error is None:
            self.latency_ok.add(latency)
        self._maybe_settle(ident, entry)

    def rejected(self, ident: int, error: BaseException) -> None:
        """A (at the door): the ask raised at once: the actor had stopped; nothing was enqueued."""
        entry = self.open.get(ident)
        if entry is None or entry.answer is not None:
            self._violation(f"ask {ident} rejected after it was answered")
            return
        entry.answer = "rejected"
        self.answers[f"{type(error).__name__} (rejected at send)"] += 1
        self._maybe_settle(ident, entry)

    def dead_letter(self, record: Any) -> None:
        """D or late: one `actors.DeadLetter` record, from the subscription (or recovered)."""
        message = record.message
        envelope = record.envelope
        subject = envelope.message if envelope is not None else message
        if not isinstance(subject, Work):
            self.other_dead_letters += 1
            return
        if message is not subject:  # the record is about the answer, not the message
            self.late_seen += 1
            self.dead_letter_reasons["late answer (asker had timed out)"] += 1
            return
        self.dead_letter_reasons[_reason_kind(record.reason)] += 1
        entry = self.open.get(subject.id)
        if entry is None or entry.fate is not None:
            self._violation(
                f"message {subject.id} ({subject.mode}) dead-lettered after it already had a "
                f"fate ({'settled' if entry is None else entry.fate}): {record.reason}"
            )
            return
        entry.fate = "D"
        entry.dl_error = None if record.error is None else type(record.error).__name__
        self._check_dead_letter_error(subject, entry)
        self._maybe_settle(subject.id, entry)

    def _check_dead_letter_error(self, work: Work, entry: _Open) -> None:
        """The error a dead letter carries must fit what the message asked the handler to do."""
        error = entry.dl_error
        if error in (None, "ActorStopped"):  # never started, or cut off by a stop
            return
        if error == "AskAbandoned" and entry.kind != TELL:  # its asker gave up: cut, or dropped unhandled
            return
        if (work.mode, error) in ((CRASH, "ChaosCrash"), (HANG, "MessageTimeout")):
            return
        if work.mode in COMPLETING and error == "MessageTimeout" and self._stall(entry):
            return
        self._violation(
            f"message {work.id} ({work.mode}, {entry.kind}) was dead-lettered with {error} "
            f"(handler had run {entry.cut} s when cut)"
        )

    def _stall(self, entry: _Open) -> bool:
        """An ok handler cut by its message_timeout: legitimate only if it had really run that long.

        Its planned sleep is far shorter, so having run past the deadline means the
        event loop woke it late (a stall); cut sooner would mean a wrong deadline.
        """
        if entry.cut is None or entry.cut < self.message_timeout * 0.999:
            return False
        self.stall_cuts += 1
        self.max_cut_overrun = max(self.max_cut_overrun, entry.cut)
        return True

    # -- settling ----------------------------------------------------------

    def _maybe_settle(self, ident: int, entry: _Open) -> None:
        if entry.kind == TELL:
            if entry.fate is None:
                return
        elif entry.answer is None or (entry.fate is None and entry.answer != "rejected"):
            return
        del self.open[ident]
        self._settle(ident, entry)

    def _settle(self, ident: int, entry: _Open) -> None:
        fate, answer = entry.fate, entry.answer
        if entry.kind == TELL:
            if fate == "H":
                self.fates["handled"] += 1
                self.detail["tell handled"] += 1
            else:
                self.fates["dead_lettered"] += 1
                self.detail[f"tell dead-lettered ({entry.mode})"] += 1
            return
        if answer == "rejected":
            if fate is not None:
                self._violation(f"ask {ident} was rejected at send yet has the fate {fate}")
            self.fates["errored"] += 1
            self.detail["ask rejected at send (ActorStopped, not enqueued)"] += 1
            return
        if answer == "value":
            if fate != "H":
                self._violation(f"ask {ident} got a value but its message was dead-lettered")
            self.fates["handled"] += 1
            self.detail["ask answered"] += 1
            return
        if answer == "AskTimeout":
            # The asker gave up; the message went on: its late answer is a dead
            # letter unless it ended in ActorStopped (recorded as the stop itself).
            if fate == "H" or entry.dl_error not in (None, "ActorStopped", "AskAbandoned"):
                self.late_expected += 1
            if fate == "H":
                self.fates["handled"] += 1
                self.detail["ask timed out, handled later (late reply)"] += 1
            else:
                self.fates["errored"] += 1
                self.detail[f"ask timed out, then dead-lettered ({entry.mode})"] += 1
            return
        # A handler failure, a hang past message_timeout, or a stop.
        if fate == "H":
            self._violation(f"ask {ident} ({entry.mode}) was handled but its asker got {answer}")
            self.fates["handled"] += 1
            return
        expected = {
            CRASH: ("ChaosCrash", "ActorStopped"),
            HANG: ("MessageTimeout", "ActorStopped"),
            OK: ("ActorStopped", "MessageTimeout"),  # MessageTimeout: only after a stall (checked above)
            BLOCK: ("ActorStopped", "MessageTimeout"),
        }[entry.mode]
        if answer not in expected:
            self._violation(f"ask {ident} ({entry.mode}) answered with {answer}, expected one of {expected}")
        if answer != "ActorStopped" and entry.dl_error != answer:
            self._violation(f"ask {ident}: the asker got {answer} but the dead letter says {entry.dl_error}")
        self.fates["errored"] += 1
        self.detail[f"ask errored with {answer} ({entry.mode})"] += 1

    def _violation(self, text: str) -> None:
        self.violation_count += 1
        if len(self.violations) < _MAX_VIOLATIONS_KEPT:
            self.violations.append(text)

    # -- queries -----------------------------------------------------------

    def open_hangs(self) -> int:
        """Hang messages not yet settled (each can hold a stop for up to message_timeout)."""
        return sum(1 for entry in self.open.values() if entry.mode == HANG and entry.fate is None)

    def finish(self) -> list[str]:
        """Close the books: return the failed checks (empty when everything balances)."""
        self.closed = True
        problems: list[str] = []
        lost_tells = sum(1 for e in self.open.values() if e.kind == TELL)
        unanswered = sum(1 for e in self.open.values() if e.kind == ASK and e.answer is None)
        fateless = sum(1 for e in self.open.values() if e.kind == ASK and e.answer is not None and e.fate is None)
        if lost_tells:
            problems.append(f"{lost_tells} tells were neither handled nor dead-lettered (lost)")
        if unanswered:
            problems.append(f"{unanswered} asks never got an answer")
        if fateless:
            problems.append(f"{fateless} asks were answered but their message was neither handled nor dead-lettered")
        settled = sum(self.fates.values())
        if settled + len(self.open) != self.total_sent:
            problems.append(f"internal: settled {settled} + open {len(self.open)} != sent {self.total_sent}")
        if self.open:
            sample = sorted(self.open)[:5]
            problems.append(
                "open message ids (first 5): "
                + ", ".join(
                    f"{i} {self.open[i].kind}/{self.open[i].mode} fate={self.open[i].fate} answer={self.open[i].answer}"
                    for i in sample
                )
            )
        if self.late_seen != self.late_expected:
            problems.append(
                f"late answers recorded {self.late_seen} != expected {self.late_expected} (asks "
                f"that timed out and were later handled or failed)"
            )
        if self.violation_count:
            problems.append(f"{self.violation_count} rule violations, first: " + "; ".join(self.violations[:5]))
        return problems

    def balance(self) -> dict[str, int]:
        return {
            "sent": self.total_sent,
            "handled": self.fates["handled"],
            "errored": self.fates["errored"],
            "dead_lettered": self.fates["dead_lettered"],
            "open": len(self.open),
        }


def _reason_kind(reason: str) -> str:
    """Group dead-letter reasons (which name actors) into a few kinds."""
    if "has stopped" in reason:
        return "sent to a stopped actor"
    if "was stopped before handling" in reason or "stopped before handling" in reason:
        return "queued when its actor stopped"
    if "was stopped while handling" in reason:
        return "handler cut off by a stop"
    if "while stopping" in reason:
        return "handler failed while stopping"
    if "failed with MessageTimeout" in reason:
        return "handler hung past message_timeout"
    if "failed with" in reason:
        return "handler raised"
    return reason[:60]
