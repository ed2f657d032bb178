"""Job-completion webhooks (docs/WEBHOOKS.md), one module per job: which callback URLs are allowed
(`destinations`), how a delivery is signed (`signing`), one delivery attempt and its state
(`delivery`), and the outbox of due webhooks (`outbox`). The API validates a `callback_url` before
it creates the job; a worker delivers it, never the API request.

* **Allowed destinations.** http or https, no userinfo, at most MAX_URL_LENGTH characters, a host
  that matches WEBHOOK_ALLOWED_HOSTS (`host`, `host:port`, `*.domain`, `*.domain:port`). At
  delivery the host is resolved and checked again: if any address it resolves to is not public
  (loopback, private, link-local, shared, reserved, multicast), it is refused unless the host is
  listed exactly (no wildcard): only then has the operator opted in. The request then goes to the
  very address that was checked (no second lookup a DNS answer could change), redirects are not
  followed.
* **Signature.** Each API key has its own secret, HMAC-SHA256(WEBHOOK_SIGNING_SECRET, key
  identity), which its holder reads at GET /v1/webhook-secret; anonymous callers have none and
  may not ask for webhooks. A delivery carries `X-Brigade-Timestamp: <unix seconds>` and
  `X-Brigade-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
* **No notification lost.** A job created with a callback has a place in the outbox (a sorted set,
  `outbox`) that its terminal update (`brigade.jobs`) makes due in the same atomic step; a worker
  chore (`worker.chores`) sends a `tasks.webhooks.deliver` task per due job and only then removes it, and
  that task is acked late, redelivered if its worker dies, and retried with exponential backoff
  (WEBHOOK_BACKOFF_S doubling up to WEBHOOK_BACKOFF_MAX_S, WEBHOOK_MAX_ATTEMPTS in all). Delivery is
  at least once: a receiver dedupes by job id and status.
"""
