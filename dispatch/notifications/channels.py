"""Notification channels: where an outbox message goes.

A channel has a ``name`` (stored on each delivery receipt) and ``send(message, recipient, key)``,
which raises on failure (the outbox then retries with backoff). ``key`` identifies one
message to one recipient on one channel and stays the same across retries, so a receiver
can drop a repeat (a crash after sending but before the receipt is committed is the one
case where a message is handed over twice).

``WANGGE_NOTIFICATION_CHANNELS`` picks the channels, a comma list of:

- ``log``: writes each message to the ``wangge.notify`` log (the default);
- ``webhook``: POSTs JSON to ``WANGGE_WEBHOOK_URL`` with the header ``X-Wangge-Delivery: <key>``;
  any answer but 2xx is a failure;
- ``sms``: sends the Chinese text to every recipient that has a phone, through an
  ``SmsGateway``. The default gateway only logs. To plug a real one (an operator's or a
  cloud SMS API), write a class with ``send(phone: str, text: str, key: str) -> None`` that
  raises on failure, and name it in ``WANGGE_SMS_GATEWAY=package.module:ClassName`` (the
  class is built without arguments and reads its own credentials, e.g. from the
  environment), or set ``app.config["WANGGE_SMS_GATEWAY"]`` to an instance;
- ``push``: Web Push and a vendor push service to every device a staff recipient registered
  (``dispatch.notifications.push``).

Other channels can be added with ``register_channel(name, factory)``, where
``factory(settings)`` returns a channel.
"""
from __future__ import annotations

import importlib
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from dispatch.notifications.push import PushChannel

log = logging.getLogger("wangge.notify")


@runtime_checkable
class Channel(Protocol):
    name: str

    def send(self, message: dict, recipient: dict, key: str) -> None:
        """Hand one message to one recipient; raise on failure."""


def accepts(channel, recipient: dict) -> bool:
    """Whether ``channel`` has a way to reach ``recipient`` (a channel may define ``accepts``)."""
    check = getattr(channel, "accepts", None)
    return True if check is None else bool(check(recipient))


def recipient_key(recipient: dict) -> str:
    """A stable, short identity for a recipient (stored on the delivery receipt)."""
    kind = recipient.get("kind", "staff")
    if kind == "staff" and recipient.get("id") is not None:
        return f"staff:{recipient['id']}"
    if recipient.get("phone"):
        return f"{kind}:{recipient['phone']}"[:100]
    return f"{kind}:{recipient.get('id') or recipient.get('name') or '?'}"[:100]


class LogChannel:
    name = "log"

    def send(self, message: dict, recipient: dict, key: str) -> None:
        log.info("notify %s -> %s (%s): %s", key, recipient_key(recipient), recipient.get("name") or "",
                 message.get("text_zh") or message.get("text_en") or message)


class WebhookChannel:
    """POST ``{"key", "topic", "message", "recipient"}`` as JSON; non-2xx raises."""

    name = "webhook"

    def __init__(self, url: str, timeout: float = 10.0):
        if not url:
            raise ValueError("the webhook channel needs WANGGE_WEBHOOK_URL")
        self.url = url
        self.timeout = timeout

    def send(self, message: dict, recipient: dict, key: str) -> None:
        body = json.dumps({"key": key, "topic": message.get("topic"), "message": message, "recipient": recipient},
                          ensure_ascii=False, default=str).encode()
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "X-Wangge-Delivery": key})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"webhook {self.url} answered {exc.code}") from exc
        if not 200 <= status < 300:
            raise RuntimeError(f"webhook {self.url} answered {status}")


class SmsGateway(Protocol):
    """What an SMS provider must offer: send one text to one phone, raise on failure.
    ``key`` is stable across retries; pass it on where the provider accepts a client id."""

    def send(self, phone: str, text: str, key: str) -> None: ...


class LogSmsGateway:
    """The default gateway: logs what would be sent (for development and trials)."""

    def send(self, phone: str, text: str, key: str) -> None:
        log.info("sms %s -> %s: %s", key, phone, text)


class SmsChannel:
    name = "sms"

    def __init__(self, gateway: SmsGateway | None = None):
        self.gateway = gateway or LogSmsGateway()

    def accepts(self, recipient: dict) -> bool:
        return bool(recipient.get("phone"))

    def send(self, message: dict, recipient: dict, key: str) -> None:
        text = message.get("text_zh") or message.get("text_en") or ""
        self.gateway.send(recipient["phone"], text, key)


def _load_gateway(spec) -> SmsGateway:
    if not isinstance(spec, str):
        return spec
    module, _, attr = spec.partition(":")
    target = getattr(importlib.import_module(module), attr)
    return target() if isinstance(target, type) else target


def _sms(settings, sms_gateway=None) -> SmsChannel:
    spec = sms_gateway or (getattr(settings, "extra", {}) or {}).get("WANGGE_SMS_GATEWAY") or \
        os.environ.get("WANGGE_SMS_GATEWAY")
    return SmsChannel(_load_gateway(spec) if spec else None)


FACTORIES: dict[str, Callable] = {
    "log": lambda settings: LogChannel(),
    "webhook": lambda settings: WebhookChannel(settings.webhook_url),
    "sms": _sms,
    "push": PushChannel,
}


def register_channel(name: str, factory: Callable) -> None:
    """Make ``name`` usable in WANGGE_NOTIFICATION_CHANNELS; ``factory(settings)`` builds the channel."""
    FACTORIES[name] = factory


def channels_from_settings(settings, *, sms_gateway=None) -> list:
    """The configured channels, in order; ``sms_gateway`` (an instance or "module:Class")
    overrides WANGGE_SMS_GATEWAY."""
    names = [n.strip().lower() for n in (settings.notification_channels or "log").split(",") if n.strip()]
    unknown = [n for n in names if n not in FACTORIES]
    if unknown:
        raise ValueError(f"unknown notification channel(s): {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(FACTORIES))})")
    channels = [_sms(settings, sms_gateway) if FACTORIES[name] is _sms else FACTORIES[name](settings)
                for name in dict.fromkeys(names)]
    return channels or [LogChannel()]
