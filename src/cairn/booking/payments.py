"""HTTP client for the payment provider (the simulator, or anything with the same API).

Each call carries an idempotency key derived from the saga and the step (``<saga>:capture``),
so a retry after a timeout, or a resumed saga after a crash, can never charge twice: the
provider replays its first answer (DDIA ch. 11/12: exactly-once *effect* by idempotence, over
an at-least-once network).

Answers are classified into three outcomes, which is all the saga needs to decide:
``ok`` (2xx), ``refused`` (a definitive 4xx: declined, invalid state, unknown authorization) and
``unknown`` (timeout, connection error, 5xx, 409 "in progress"): the operation may or may not
have happened, so the caller retries with the same key, later if need be.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from cairn.booking.background import CounterSet


@dataclass(frozen=True)
class PaymentResult:
    outcome: str  # ok | refused | unknown
    status: int | None  # HTTP status, None for a timeout / connection error
    body: dict
    detail: str = ""

    @property
    def auth_id(self) -> str | None:
        value = self.body.get("id")
        return str(value) if value else None


@dataclass
class PaymentStats(CounterSet):
    calls: int = 0
    timeouts: int = 0
    errors_5xx: int = 0
    refused: int = 0
    retries: int = 0


class PaymentsClient:
    """Thread-safe (httpx.Client is): shared by the request threads of the service."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 2.0,
        retries: int = 2,
        backoff_s: float = 0.05,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.stats = PaymentStats()
        self.http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 2.0)),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )

    def _once(self, path: str, key: str, body: dict) -> PaymentResult:
        self.stats.bump("calls")
        try:
            resp = self.http.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.TimeoutException as exc:
            self.stats.bump("timeouts")
            return PaymentResult("unknown", None, {}, f"timeout: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            self.stats.bump("errors_5xx")
            return PaymentResult("unknown", None, {}, f"connection: {type(exc).__name__}")
        try:
            data = resp.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if 200 <= resp.status_code < 300:
            return PaymentResult("ok", resp.status_code, data)
        in_progress = resp.status_code == 409 and data.get("error") == "idempotency_in_progress"
        if resp.status_code >= 500 or resp.status_code == 429 or in_progress:
            self.stats.bump("errors_5xx")
            return PaymentResult("unknown", resp.status_code, data, str(data.get("error", "")))
        self.stats.bump("refused")
        return PaymentResult("refused", resp.status_code, data, str(data.get("error", "")))

    def _call(self, path: str, key: str, body: dict) -> PaymentResult:
        result = self._once(path, key, body)
        for attempt in range(self.retries):
            if result.outcome != "unknown":
                break
            self.stats.bump("retries")
            time.sleep(self.backoff_s * (2**attempt))
            result = self._once(path, key, body)
        return result

    def authorize(
        self, key: str, amount_cents: int, reference: str, card: str = "tok_visa"
    ) -> PaymentResult:
        return self._call(
            "/v1/authorizations",
            key,
            {"amount_cents": amount_cents, "currency": "EUR", "reference": reference, "card": card},
        )

    def capture(self, auth_id: str, key: str) -> PaymentResult:
        return self._call(f"/v1/authorizations/{auth_id}/capture", key, {})

    def void(self, auth_id: str, key: str) -> PaymentResult:
        return self._call(f"/v1/authorizations/{auth_id}/void", key, {})

    def refund(self, auth_id: str, key: str) -> PaymentResult:
        return self._call(f"/v1/authorizations/{auth_id}/refund", key, {})

    def healthy(self) -> bool:
        try:
            return self.http.get("/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        self.http.close()
