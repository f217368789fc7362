"""Mimecast events (URL Protect clicks, Impersonation Protect detections): seeded, on the sim clock.

Generated events are a pure function of (seed, stream, index): only their timestamps are stored
(8 bytes each), so a million events cost megabytes and any page is rebuilt on demand. Events a
scenario injects are stored whole beside them. Both streams are read merged in time order.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import itertools
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from faker import Faker

from sims.core.progress import NULL, Progress
from sims.mimecast.config import GeneratorConfig

CLEAN_SITES = [
    ("https://www.google.com/search?q=quarterly+report", "Search Engines & Portals"),
    ("https://outlook.office365.com/mail/inbox", "Business"),
    ("https://www.linkedin.com/feed/", "Social Networking"),
    ("https://github.com/orgs/safemarch/repositories", "Computers & Technology"),
    ("https://www.nytimes.com/section/business", "News"),
    ("https://docs.google.com/document/d/1a2b3c/edit", "Business"),
    ("https://zoom.us/j/98765432100", "Business"),
    ("https://www.salesforce.com/products/", "Business"),
    ("https://oneclient.sfx.ms/Win/Preview/OneDriveSetup.exe", "Unknown"),
]
MALICIOUS_CATEGORIES = ["Compromised", "Phishing & Fraud", "Malware", "Dangerous file extension"]
MALICIOUS_TLDS = ["com", "net", "top", "xyz", "info", "online", "site", "ru"]
BRANDS = ["microsoft", "office365", "paypal", "docusign", "dropbox", "wetransfer", "adobe", "dhl"]
ROUTES = ["inbound", "inbound", "inbound", "internal", "outbound"]
DOMAIN_IDENTIFIERS = ["similar_internal_domain", "custom_external_domain", "advanced_similar_internal_domain"]
OTHER_IDENTIFIERS = ["internal_user_name", "reply_address_mismatch", "newly_observed_domain"]


def mc_date(ts: float) -> str:
    """Mimecast's response date format: 2024-11-14T19:44:02+0000."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def lookalikes(domain: str) -> list[str]:
    """Domains an impersonator would register to look like ``domain``."""
    name, _, tld = domain.partition(".")
    tld = tld or "com"
    out = [
        f"{name.replace('m', 'rn', 1)}.{tld}" if "m" in name else f"{name}s.{tld}",
        f"{name.replace('l', '1', 1)}.{tld}" if "l" in name else f"{name}-secure.{tld}",
        f"{name.replace('o', '0', 1)}.{tld}" if "o" in name else f"{name}-mail.{tld}",
        f"{name}-{tld.split('.')[0]}.com",
        f"{name}.co",
        f"{name}{name[-1]}.{tld}",
    ]
    return [d for d in dict.fromkeys(out) if d != domain]


@dataclass
class Vocabulary:
    """Names and words drawn once per account from faker with the account's seed."""

    users: list[tuple[str, str]]  # (display name, address)
    senders: list[str]
    words: list[str]
    lookalike_domains: list[str]
    custom_lookalikes: list[str]

    @classmethod
    def build(cls, seed: int, domains: list[str], custom: list[str], users: int) -> Vocabulary:
        fake = Faker("en_US")
        fake.seed_instance(seed)
        domain = domains[0] if domains else "example.com"
        people = []
        for _ in range(users):
            first, last = fake.first_name(), fake.last_name()
            people.append((f"{first} {last}", f"{first}.{last}@{domain}".lower().replace("'", "")))
        senders = [fake.free_email() for _ in range(50)]
        words = [w.lower() for w in fake.words(nb=200, unique=True)]
        similar = [d for own in domains for d in lookalikes(own)] or lookalikes(domain)
        custom_like = [d for c in custom for d in lookalikes(c)]
        return cls(people, senders, words, similar, custom_like)


def _rng(seed: int, stream: str, index: int) -> random.Random:
    digest = hashlib.blake2b(f"{seed}:{stream}:{index}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


class Stream:
    """One kind of event: generated timestamps plus injected records, read merged in time order."""

    def __init__(self, name: str, build: Callable[[int, float], dict]) -> None:
        self.name = name
        self.build = build
        self.times: list[float] = []
        self.injected: list[tuple[float, int, dict]] = []  # sorted by (time, n)
        self._injected_ids = itertools.count(1)

    def inject(self, ts: float, record: dict) -> None:
        bisect.insort(self.injected, (ts, next(self._injected_ids), record), key=lambda e: (e[0], e[1]))

    def __len__(self) -> int:
        return len(self.times) + len(self.injected)

    def scan(self, start: float, end: float, oldest_first: bool, after: tuple | None) -> Iterator[tuple]:
        """(time, kind, n) keys in [start, end] in the requested order, strictly after ``after``."""

        def generated() -> Iterator[tuple]:
            # Start at the cursor by bisection: a page deep into a million events costs what the first does.
            if oldest_first:
                i = bisect.bisect_left(self.times, max(start, after[0]) if after else start)
                while i < len(self.times) and self.times[i] <= end:
                    yield (self.times[i], 0, i)
                    i += 1
            else:
                i = bisect.bisect_right(self.times, min(end, after[0]) if after else end) - 1
                while i >= 0 and self.times[i] >= start:
                    yield (self.times[i], 0, i)
                    i -= 1

        def injected() -> Iterator[tuple]:
            items = self.injected if oldest_first else reversed(self.injected)
            for ts, n, _ in items:
                if start <= ts <= end:
                    yield (ts, 1, n)

        merged = heapq.merge(generated(), injected(), reverse=not oldest_first)
        for key in merged:
            if after is not None and (key <= after if oldest_first else key >= after):
                continue
            yield key

    def record(self, key: tuple) -> dict:
        ts, kind, n = key
        if kind == 0:
            return self.build(n, ts)
        return next(r for t, m, r in self.injected if m == n)


class EventBook:
    """The events of one account."""

    def __init__(self, config: GeneratorConfig, seed: int, domains: list[str], custom: list[str]) -> None:
        self.config = config
        self.seed = seed
        self.vocab = Vocabulary.build(seed, domains, custom, config.users)
        self.clicks = Stream("clicks", self._click)
        self.impersonations = Stream("impersonations", self._impersonation)

    # -- generation ------------------------------------------------------------------------------
    def _gap(self, stream: str, index: int, per_hour: float) -> float:
        u = _rng(self.seed, f"gap:{stream}", index).random()
        return -math.log(1.0 - u) * 3600.0 / per_hour

    def generate_until(self, now: float, progress: Progress = NULL, label: str = "mimecast") -> int:
        """Append generated events up to ``now`` (bounded catch-up after a long jump). ``progress``
        gets one task per stream whose total is the expected count (the real one at the end)."""
        made = 0
        cfg = self.config
        for stream, rate in (
            (self.clicks, cfg.clicks_per_hour),
            (self.impersonations, cfg.impersonations_per_hour),
        ):
            if rate <= 0:
                continue
            last = stream.times[-1] if stream.times else now - cfg.history_hours * 3600
            if now - last > cfg.max_catch_up_hours * 3600:
                last = now - cfg.max_catch_up_hours * 3600
            task = progress.task(f"{label}: {stream.name}", max(0, round((now - last) / 3600 * rate)))
            times, gap, name, step = stream.times, self._gap, stream.name, 0
            while True:
                ts = last + gap(name, len(times), rate)
                if ts > now:
                    break
                times.append(round(ts, 3))
                last = ts
                made += 1
                step += 1
                if step == 10_000:
                    task.advance(step)
                    step = 0
            task.advance(step)
            task.close()
        return made

    def is_malicious_click(self, index: int) -> bool:
        return _rng(self.seed, "mal", index).random() < self.config.malicious_ratio

    def _click(self, index: int, ts: float) -> dict:
        r = _rng(self.seed, "click", index)
        v = self.vocab
        _, user = v.users[r.randrange(len(v.users))]
        malicious = self.is_malicious_click(index)
        route = r.choice(ROUTES)
        if malicious:
            host = f"{r.choice(BRANDS)}-{r.choice(v.words)}-{r.choice(['login', 'verify', 'secure', 'auth'])}"
            domain = f"{host}.{r.choice(MALICIOUS_TLDS)}"
            if r.random() < 0.4:
                domain = f"{r.choice(v.words)}.{domain}"
            path = f"/{r.choice(v.words)}/{r.choice(v.words)}.{r.choice(['php', 'html', 'exe', 'zip'])}"
            url = f"https://{domain}{path}"
            category = r.choice(MALICIOUS_CATEGORIES)
            action, actions, method = "block", "Block", r.choice(["User Click", "Entry Scan"])
            tag = {
                "UrlReputationScan": {
                    "Status": ["CustomerAll", "VerdictBlock"],
                    "Type": [category],
                    "UrlBlock": [f"ORIGINAL:{url} (Blocked as {category.upper()})"],
                    "Url": [url],
                }
            }
        else:
            url, category = r.choice(CLEAN_SITES)
            action, actions, method, tag = "allow", "Allow", r.choice(["User Click", "Entry Scan"]), None
        record = {
            "userEmailAddress": user,
            "fromUserEmailAddress": r.choice(v.senders),
            "url": url,
            "ttpDefinition": f"Default {route.title()} URL Protect Definition",
            "subject": " ".join(r.choice(v.words) for _ in range(r.randint(2, 6))).capitalize(),
            "action": action,
            "adminOverride": "N/A",
            "userOverride": "None",
            "scanResult": "malicious" if malicious else "clean",
            "category": category,
            "sendingIp": "Internal IP"
            if route == "internal"
            else f"81.2.{r.randrange(256)}.{r.randrange(1, 255)}",
            "userAwarenessAction": "N/A",
            "date": mc_date(ts),
            "actions": actions,
            "route": route,
            "creationMethod": method,
            "emailPartsDescription": [r.choice(["Body", "Body", "Attachment"])],
            "messageId": f"<{r.getrandbits(64):016x}-{r.randrange(10**6)}@mail.sims.example>",
        }
        if tag:
            record["tagMap"] = tag
        return record

    def _impersonation(self, index: int, ts: float) -> dict:
        r = _rng(self.seed, "imp", index)
        v = self.vocab
        name, recipient = v.users[r.randrange(len(v.users))]
        domain_based = r.random() < 0.75
        if domain_based:
            use_custom = bool(v.custom_lookalikes) and r.random() < 0.3
            domain = r.choice(v.custom_lookalikes if use_custom else v.lookalike_domains)
            identifier = "custom_external_domain" if use_custom else r.choice(DOMAIN_IDENTIFIERS[::2])
            local = (
                recipient.split("@")[0]
                if r.random() < 0.5
                else r.choice(["ceo", "payroll", "it-support", "hr"])
            )
            sender = f"{local}@{domain}"
            protected = domain if use_custom else recipient.split("@")[1]
            results = [
                {
                    "impersonationDomainSource": identifier,
                    "similarDomain": protected,
                    "stringSimilarToDomain": domain,
                    "checkerResult": "hit",
                }
            ]
            identifiers = [identifier]
        else:
            identifier = r.choice(OTHER_IDENTIFIERS)
            sender = r.choice(v.senders)
            results = [
                {
                    "impersonationDomainSource": identifier,
                    "similarDomain": f"{name} <{recipient}>",
                    "stringSimilarToDomain": name,
                    "checkerResult": "hit",
                }
            ]
            identifiers = [identifier]
        hits = len(identifiers) + (1 if r.random() < 0.3 else 0)
        action = r.choice(["none", "hold", "hold", "bounce"])
        token = hashlib.blake2b(f"{self.seed}:{index}".encode(), digest_size=18).hexdigest()
        verdict = "Hold for Review" if action == "hold" else "Tag email"
        return {
            "id": f"MTOKEN:{token}",
            "senderAddress": sender,
            "recipientAddress": recipient,
            "subject": r.choice(
                [
                    "Urgent wire transfer",
                    "Invoice overdue",
                    "Quick favour",
                    "Payroll update",
                    "Re: contract",
                    "Action required: password expiry",
                ]
            ),
            "definition": f"IP - {hits} hit{'s' if hits > 1 else ''} ({verdict})",
            "hits": hits,
            "identifiers": identifiers,
            "action": action,
            "taggedExternal": r.random() < 0.5,
            "taggedMalicious": domain_based or r.random() < 0.5,
            "senderIpAddress": ".".join(
                str(r.randrange(lo, hi)) for lo, hi in ((1, 224), (0, 256), (0, 256), (1, 255))
            ),
            "eventTime": mc_date(ts),
            "impersonationResults": results,
            "messageId": f"<{r.getrandbits(64):016X}@{sender.split('@')[1]}>",
        }

    # -- state -----------------------------------------------------------------------------------
    def export(self) -> dict:
        return {
            "clicks": {"times": self.clicks.times, "injected": [list(e) for e in self.clicks.injected]},
            "impersonations": {
                "times": self.impersonations.times,
                "injected": [list(e) for e in self.impersonations.injected],
            },
        }

    def load(self, state: dict) -> None:
        for stream in (self.clicks, self.impersonations):
            data = state[stream.name]
            stream.times = [float(t) for t in data["times"]]
            stream.injected = [(float(t), int(n), dict(r)) for t, n, r in data["injected"]]
            stream._injected_ids = itertools.count(max((n for _, n, _ in stream.injected), default=0) + 1)


@dataclass
class Page:
    records: list[dict]
    next_cursor: tuple | None
    total: int = 0
    scanned: int = 0
    extra: dict = field(default_factory=dict)


def page(
    stream: Stream, start: float, end: float, oldest_first: bool, after: tuple | None, size: int, keep
) -> Page:
    """Up to ``size`` records passing ``keep``, and the cursor to continue from if more remain."""
    out: list[dict] = []
    last = None
    scanned = 0
    for key in stream.scan(start, end, oldest_first, after):
        scanned += 1
        if not keep(key):
            continue
        if len(out) == size:
            return Page(out, last, scanned=scanned)
        out.append(stream.record(key))
        last = key
    return Page(out, None, scanned=scanned)
