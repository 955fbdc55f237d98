"""`respond()` over the bot's shared HTTP session (Bolt's opens a new connection per answer)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.models.attachments import Attachment
from slack_sdk.models.blocks import Block
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient


class SessionRespond(AsyncRespond):
    def __init__(self, *, response_url: str, session: aiohttp.ClientSession, proxy: str | None = None) -> None:
        super().__init__(response_url=response_url, proxy=proxy)
        self._session = session

    async def __call__(
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[dict[str, Any] | Block] | None = None,
        attachments: Sequence[dict[str, Any] | Attachment] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        assert self.response_url is not None
        client = AsyncWebhookClient(url=self.response_url, session=self._session, proxy=self.proxy)
        if isinstance(text, dict):  # a whole message, as Bolt's respond() also accepts
            return await client.send_dict(text)
        fields: dict[str, Any] = {
            "text": text,
            "blocks": [b.to_dict() if isinstance(b, Block) else b for b in blocks] if blocks is not None else None,
            "attachments": [a.to_dict() if isinstance(a, Attachment) else a for a in attachments]
            if attachments is not None
            else None,
            "response_type": response_type,
            "replace_original": replace_original,
            "delete_original": delete_original,
            "unfurl_links": unfurl_links,
            "unfurl_media": unfurl_media,
            "thread_ts": thread_ts,
            "metadata": metadata,
        }
        return await client.send_dict({k: v for k, v in fields.items() if v is not None})
