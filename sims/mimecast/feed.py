"""The threat intel feed: malicious attachments from the account's clicks, as STIX 2.0 or CSV."""

from __future__ import annotations

import hashlib
import json

from sims.mimecast.errors import FunctionError
from sims.mimecast.events import EventBook, mc_date
from sims.mimecast.logs import parse_date


def threat_feed(book: EventBook, item: dict, now: float) -> tuple[bytes, str, dict]:
    start = parse_date(item["start"], "start") if item.get("start") else now - 7 * 86400
    end = parse_date(item["end"], "end") if item.get("end") else now
    file_type = item.get("fileType", "csv")
    feed_type = item.get("feedType", "malware_customer")
    if file_type not in ("csv", "stix"):
        raise FunctionError("err_validation_invalid_value", "fileType must be csv or stix")
    if feed_type not in ("malware_customer", "malware_grid"):
        raise FunctionError(
            "err_validation_invalid_value", "feedType must be malware_customer or malware_grid"
        )
    rows = []
    for key in book.clicks.scan(start, end, True, None):
        if key[1] == 0 and not book.is_malicious_click(key[2]):
            continue
        rec = book.clicks.record(key)
        if rec["scanResult"] != "malicious" or not rec["url"].endswith((".exe", ".zip")):
            continue
        digest = hashlib.sha256(rec["url"].encode()).hexdigest()
        rows.append((rec, digest, hashlib.md5(rec["url"].encode()).hexdigest()))
    name = f"threat_feed_{feed_type}_{mc_date(end)[:10]}.{file_type}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if file_type == "csv":
        lines = ["Timestamp|SenderAddress|RecipientAddress|FileName|FileType|MD5|SHA256|Route"]
        for rec, sha, md5 in rows:
            filename = rec["url"].rsplit("/", 1)[-1]
            lines.append(
                "|".join(
                    [
                        rec["date"],
                        rec["fromUserEmailAddress"],
                        rec["userEmailAddress"],
                        filename,
                        filename.rsplit(".", 1)[-1],
                        md5,
                        sha,
                        rec["route"],
                    ]
                )
            )
        return ("\n".join(lines) + "\n").encode(), "text/csv", headers
    objects = []
    for rec, sha, _ in rows:
        malware = f"malware--{sha[:8]}-{sha[8:12]}-{sha[12:16]}-{sha[16:20]}-{sha[20:32]}"
        indicator = f"indicator--{sha[32:40]}-{sha[40:44]}-{sha[44:48]}-{sha[48:52]}-{sha[52:64]}"
        objects += [
            {
                "type": "malware",
                "id": malware,
                "created": rec["date"],
                "modified": rec["date"],
                "name": rec["url"].rsplit("/", 1)[-1],
                "labels": ["trojan"],
            },
            {
                "type": "indicator",
                "id": indicator,
                "created": rec["date"],
                "modified": rec["date"],
                "labels": ["malicious-activity"],
                "valid_from": rec["date"],
                "pattern": f"[file:hashes.'SHA-256' = '{sha}']",
            },
            {
                "type": "relationship",
                "id": f"relationship--{indicator[11:]}",
                "created": rec["date"],
                "modified": rec["date"],
                "relationship_type": "indicates",
                "source_ref": indicator,
                "target_ref": malware,
            },
        ]
    bundle_id = hashlib.sha256(f"{start}:{end}:{feed_type}".encode()).hexdigest()
    bundle = {
        "type": "bundle",
        "id": f"bundle--{bundle_id[:8]}-{bundle_id[8:12]}-{bundle_id[12:16]}-"
        f"{bundle_id[16:20]}-{bundle_id[20:32]}",
        "spec_version": "2.0",
        "objects": objects,
    }
    return json.dumps(bundle).encode(), "application/json", headers
