"""Keep-alive HTTP sessions for the bot's calls to Slack.

Without them slack-sdk opens (and closes) a TCP connection for every Web API call and every
response_url post, which costs more CPU than the call itself. Each client gets a session of its
own because slack-sdk applies a client's timeout only to sessions it makes itself: the session
must carry it. Sessions can only be made inside a running event loop, so the bot opens them when
it starts and closes them when it stops.
"""

from __future__ import annotations

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient


class SharedSession:
    def __init__(self, client: AsyncWebClient, *others: AsyncWebClient) -> None:
        self._clients = (client, *others)
        self.session: aiohttp.ClientSession | None = None  # the first client's: for response_urls too

    async def open(self) -> None:
        if self.session is not None:
            return
        for client in self._clients:
            # trust_env stays off as in slack-sdk's own sessions: a proxy comes from the client.
            client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=client.timeout))
        self.session = self._clients[0].session

    async def close(self) -> None:
        for client in self._clients:
            session, client.session = client.session, None
            if session is not None:
                await session.close()
        self.session = None
