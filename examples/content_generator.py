"""An Orchestrator assigns two long articles to a ContentGenerator and keeps working meanwhile.

``ask_nowait`` sends the request and returns a ``Reply`` promise at once: the
caller is not blocked while the article is written. The generator answers
later with a deferred reply: it accepts the job, drafts it section by section
in later messages (a timer it sets itself), and replies when the last section
is done. A correlation id ties each answer to its request. Two articles are in
flight at once. Run: ``python -m examples.content_generator``.
"""

import attrs
import trio

from actors import Actor, DeferredReply, open_actor_system

SECTIONS = ("outline", "draft", "edit")  # each article goes through these steps
STEP = 0.15  # seconds per section; the generator works on one section at a time
TOPICS = ("The Future of AI", "Actors in Python")


@attrs.frozen
class Write:
    topic: str


@attrs.frozen
class Continue:
    pass


@attrs.frozen
class Article:
    topic: str
    sections: tuple[str, ...]
    request_id: int  # the correlation id of the Write it answers


class ContentGenerator(Actor):
    async def on_start(self) -> None:
        # Private state: the jobs in progress, oldest first, each as
        # (topic, request id, sections done, handle to answer its ask).
        self.jobs: list[tuple[str, int, list[str], DeferredReply]] = []

    async def receive(self, message):
        match message:
            case Write(topic):
                # Do not answer now: keep a handle to answer this ask later, and
                # note the request's correlation id (from the message's envelope).
                handle = self.defer_reply()
                request_id = self.envelope.correlation_id
                print(f"generator: accepted {topic!r} (request #{request_id}); answering later")
                self.jobs.append((topic, request_id, [], handle))
                if len(self.jobs) == 1:
                    self.schedule_once(STEP, Continue())  # start the work loop
                # Returning frees the mailbox at once: another Write can come in.
            case Continue():
                # One section of the oldest job, then that job goes to the back
                # of the line: the articles are written side by side.
                topic, request_id, done, handle = self.jobs.pop(0)
                done.append(SECTIONS[len(done)])
                print(f"generator: {topic!r}: {done[-1]} done ({len(done)}/{len(SECTIONS)})")
                if len(done) == len(SECTIONS):
                    # The long task is finished: answer the ask it came from.
                    handle.reply(Article(topic, tuple(done), request_id))
                else:
                    self.jobs.append((topic, request_id, done, handle))
                if self.jobs:
                    self.schedule_once(STEP, Continue())


def notify(reply) -> None:
    """A done-callback: runs the moment the article arrives, while main is busy elsewhere."""
    article = reply.result()
    same = "they match" if article.request_id == reply.correlation_id else "MISMATCH"
    print(
        f"main: notified: {article.topic!r} is ready (reply to request #{reply.correlation_id}, "
        f"the generator saw request #{article.request_id}: {same})"
    )


async def main() -> None:
    async with open_actor_system() as system:
        generator = await system.spawn(ContentGenerator, name="generator")

        # 1. Assign both articles without waiting: each ask_nowait returns a promise.
        replies = [generator.ask_nowait(Write(topic), timeout=5) for topic in TOPICS]
        for reply in replies:
            reply.add_done_callback(notify)  # 2. be told when it is done
            print(f"main: assigned request #{reply.correlation_id}; not waiting for it")

        # 3. Meanwhile the orchestrator keeps working (the generator needs
        #    STEP seconds per section, so none of this waits on it).
        for chore in ("assign research to the planner", "check the system status", "plan tomorrow"):
            print(f"main: meanwhile, {chore} (articles ready: {sum(r.done() for r in replies)} of 2)")
            await trio.sleep(0.02)

        # 4. Nothing left to do: now wait for the articles, in request order.
        print("main: other work done, awaiting the articles")
        for reply in replies:
            article = await reply
            print(f"main: got {article.topic!r}: {' -> '.join(article.sections)}")
        print(f"main: both articles done; {len(system.dead_letters)} dead letters")


if __name__ == "__main__":
    trio.run(main)
