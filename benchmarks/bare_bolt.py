"""The reference app the click targets are set against: a slack-bolt AsyncApp that only acks, on Bolt's own aiohttp
adapter, with signature verification on as in any real app. Prints its address, then serves.

    python -m benchmarks.bare_bolt --secret S --token T --api-url URL [--process-before-response]
"""

from __future__ import annotations

import argparse
import asyncio
import re

from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def build(secret: str, token: str, api_url: str, *, process_before_response: bool) -> AsyncApp:
    app = AsyncApp(
        client=AsyncWebClient(token=token, base_url=api_url),
        signing_secret=secret,
        process_before_response=process_before_response,
    )

    async def only_ack(ack: AsyncAck) -> None:
        await ack()

    app.action(re.compile(".*"))(only_ack)
    app.command("/pulse")(only_ack)
    app.command("/rollout")(only_ack)
    return app


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--secret", required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--process-before-response", action="store_true")
    args = parser.parse_args()
    app = build(args.secret, args.token, args.api_url, process_before_response=args.process_before_response)
    runner = web.AppRunner(app.web_app(path="/slack/events"), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = next(int(a[1]) for a in runner.addresses)
    print(f"http://127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
