"""A newsroom broadcasts headlines to subscribed agents; a stopped one's mail goes to dead letters.

``system.publish(topic, message)`` tells the message to every actor subscribed
to the topic and returns how many it reached, without waiting for any of them.
When a subscriber stops it is unsubscribed for you, so the next publish reaches
one fewer; a message told straight to the stopped actor is not lost silently
but recorded as a dead letter, and a monitor subscribed to the ``DeadLetter``
topic hears of each one as it happens. Run: ``python -m examples.broadcast``.
"""

import attrs
import trio

from actors import Actor, DeadLetter, open_actor_system

NEWS = "news"  # the topic: any hashable value will do


@attrs.frozen
class Headline:
    text: str


@attrs.frozen
class HowMany:
    pass


class Subscriber(Actor):
    """One agent reacting to headlines in its own way, after `seconds` of work."""

    def __init__(self, role: str, verb: str, seconds: float) -> None:
        self.role, self.verb, self.seconds = role, verb, seconds
        self.seen = 0  # private state

    async def receive(self, message):
        match message:
            case Headline(text):
                # Each role takes a different time, so their reactions print in
                # a fixed order (0.1 s apart) whatever order trio wakes them in.
                await trio.sleep(self.seconds)
                self.seen += 1
                print(f"{self.role}: {self.verb} {text!r} (headline {self.seen})")
            case HowMany():
                return self.seen


class DeadLetterMonitor(Actor):
    """Subscribed to the DeadLetter topic: told of every dead letter as it is recorded."""

    async def on_start(self) -> None:
        self.count = 0

    async def receive(self, message):
        match message:
            case DeadLetter(message=lost, recipient=recipient, reason=reason):
                self.count += 1
                print(f"monitor: dead letter {self.count}: {lost!r} to '{recipient.name}' ({reason})")
            case HowMany():
                return self.count


async def main() -> None:
    async with open_actor_system() as system:
        # 1. Three agents subscribe to the news; a monitor watches dead letters.
        roles = [("summarizer", "summarised", 0.1), ("translator", "translated", 0.2), ("archivist", "filed", 0.3)]
        agents = {}
        for role, verb, seconds in roles:
            agents[role] = await system.spawn(Subscriber, role, verb, seconds, name=role)
            system.subscribe(agents[role], NEWS)
        monitor = await system.spawn(DeadLetterMonitor, name="monitor")
        system.subscribe(monitor, DeadLetter)

        # 2. Publish: one call, every subscriber gets its own copy, nobody waits.
        reached = system.publish(NEWS, Headline("Actors tame concurrency"))
        print(f"newsroom: published to {reached} subscribers")
        # An ask queues behind the headline, so its answer means "handled it".
        for ref in agents.values():
            await ref.ask(HowMany(), timeout=5)
        print("newsroom: every subscriber has reacted")

        # 3. Stop the translator: it leaves the topic by itself.
        translator = agents["translator"]
        await system.stop(translator)
        print(f"newsroom: translator stopped (is_alive={translator.is_alive})")
        reached = system.publish(NEWS, Headline("Dead letters explained"))
        print(f"newsroom: published to {reached} subscribers (the stopped translator left the topic)")
        for ref in (agents["summarizer"], agents["archivist"]):
            await ref.ask(HowMany(), timeout=5)  # wait until both have reacted

        # 4. Telling the stopped translator directly: tell does not raise,
        #    each message becomes a dead letter and the monitor hears of it.
        translator.tell(Headline("Are you still there?"))
        translator.tell(Headline("Hello?"))
        print("newsroom: told the translator 2 headlines directly")
        await monitor.ask(HowMany(), timeout=5)  # queued behind both dead letters

        # 5. The system kept a record of every message that went nowhere.
        print(f"newsroom: {len(system.dead_letters)} dead letters:")
        for letter in system.dead_letters:
            print(f"newsroom:   {letter.message!r} to '{letter.recipient.name}': {letter.reason}")


if __name__ == "__main__":
    trio.run(main)
