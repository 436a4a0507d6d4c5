"""Administration from the command line: ``docstore admin grant|revoke EMAIL`` and
``docstore stats [--recount]``. Each takes the process's services and returns the exit status."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any

from adapters.cache import Invalidation
from adapters.pubsub import announce_once
from models import accounts, roles
from models import recount as recounting
from models import stats as figures_of
from models.errors import AccountNotFound

if TYPE_CHECKING:
    from collections.abc import Iterable

    from runtime.services import Services

FIELDS = ("documents", "bytes", "accounts")


def change_role(services: Services, action: str, raw_email: str) -> int:
    """Grant or revoke ADMIN; 1 with a message on stderr for an invalid or unknown email."""
    from services import validation  # email_validator, which ``stats`` does not need

    try:
        email = validation.email(raw_email)
    except validation.InvalidInput as error:
        print(f"docstore: {error.message}", file=sys.stderr)
        return 1
    account = accounts.find_by_email(email)
    if account is not None and accounts.is_replica(account, services.settings.region):
        # The copy kept here only redirects sign-ins; roles belong to the account at home.
        print(f"docstore: {email} lives in {account.home_region}: run this command there", file=sys.stderr)
        return 1
    try:
        if account is None:
            raise AccountNotFound(email)
        changed = roles.set_role(account, roles.ADMIN if action == "grant" else roles.USER)
    except AccountNotFound:  # no such email, or the account was deleted meanwhile
        print(f"docstore: no account has the email {email}", file=sys.stderr)
        return 1
    if changed:
        announce_invalidation(services, Invalidation(account.id))
    if action == "grant":
        print(f"granted ADMIN to {email} (account {account.id})" if changed else f"{email} is already ADMIN")
    else:
        print(f"revoked ADMIN from {email} (account {account.id})" if changed else f"{email} is not ADMIN")
    return 0


def announce_invalidation(services: Services, invalidation: Invalidation) -> None:
    """Tell every API and worker process that shares this pub/sub to drop its copy of the account,
    so the new role holds at once. Over ``memory://`` no other process hears it: a server then
    sees the change within ``DOCSTORE_CACHE_SECONDS``."""
    asyncio.run(announce_once(services.settings.pubsub_url, invalidation))


def stats(services: Services, *, recount: bool = False, as_json: bool = False) -> int:
    """Print the dashboard's figures; with ``recount``, also recount from the tables and repair
    drift. 1 when a counter changed while counting (run it again). ``as_json``: one JSON object
    instead, the figures shaped as the GraphQL ``dashboard`` query answers them."""
    figures = figures_of.figures()
    queues = queue_depths(services)
    result = recounting.recount(progress=_progress) if recount else None
    if as_json:
        report: dict[str, Any] = {"counters": figure_json(figures, queues)}
        if result is not None:
            report["recount"] = figure_json(figures_of.figures(result.recounted()), queues)
            report["drift"] = result.drift
            report["unsettled"] = result.unsettled
            report["lines"] = recount_lines(result)
        print(json.dumps(report, indent=2))
    else:
        for line in figure_lines(figures, queues):
            print(line)
        for line in recount_lines(result) if result is not None else []:
            print(line)
    return 1 if result is not None and result.unsettled else 0


def queue_depths(services: Services) -> list[tuple[str, int, int]]:
    return [(name, queue.depth(), queue.dead_letter_depth()) for name, queue in services.queues.items()]


def figure_json(figures: figures_of.Figures, queues: list[tuple[str, int, int]]) -> dict[str, Any]:
    return {
        "documentCount": figures.documents,
        "averageDocumentSize": figures.average_size,
        "totalStorageBytes": figures.bytes,
        "accountsPerPlan": [{"plan": plan, "accounts": n} for plan, n in figures.accounts_per_plan.items()],
        "perPlan": [{"plan": p, "documents": s.documents, "bytes": s.bytes} for p, s in figures.per_plan.items()],
        "perContentType": [
            {"contentType": t, "documents": s.documents, "bytes": s.bytes} for t, s in figures.per_type.items()
        ],
        "accountsOverQuota": figures.accounts_over_quota,
        "failedDocuments": figures.failed_documents,
        "queueDepth": [{"queue": name, "messages": n, "deadLetters": dead} for name, n, dead in queues],
    }


def figure_lines(figures: figures_of.Figures, queues: list[tuple[str, int, int]]) -> list[str]:
    lines = [
        f"documents            {figures.documents:,}",
        f"average size         {figures.average_size:,} bytes",
        f"total storage        {figures.bytes:,} bytes",
        f"accounts             {figures.accounts:,}",
    ]
    for plan, count in figures.accounts_per_plan.items():
        share = figures.per_plan[plan]
        lines.append(f"plan {plan:<15} {count:,} accounts, {share.documents:,} documents, {share.bytes:,} bytes")
    for content_type, share in figures.per_type.items():
        lines.append(f"type {content_type:<15} {share.documents:,} documents, {share.bytes:,} bytes")
    lines += [
        f"accounts over quota  {figures.accounts_over_quota:,}",
        f"failed documents     {figures.failed_documents:,}",
    ]
    lines += [f"queue {name:<14} {waiting:,} waiting, {dead:,} dead letters" for name, waiting, dead in queues]
    return lines


def recount_lines(result: recounting.Recount) -> list[str]:
    lines = [
        f"recount: {result.accounts_scanned:,} accounts and {result.documents_scanned:,} documents scanned",
        f"{'counter':<28} {'field':<10} {'counter':>14} {'recount':>14} {'difference':>11}  outcome",
    ]
    for check in result.counters:
        if check.outcome == recounting.EXACT and not any(check.counted):
            continue
        for field, counted, recounted, difference in zip(
            FIELDS, check.counted, check.recounted, check.difference, strict=True
        ):
            if field == "accounts" and not (counted or recounted):
                continue
            lines.append(
                f"{check.name:<28} {field:<10} {counted:>14,} {recounted:>14,} {difference:>+11,}  {check.outcome}"
            )
    for account in result.accounts:
        lines.append(
            f"account {account.account_id}: counted {account.counted[0]:,} documents, {account.counted[1]:,} bytes; "
            f"recount {account.recounted[0]:,} documents, {account.recounted[1]:,} bytes: {account.outcome}"
        )
    if result.unsettled:
        lines.append("some counters changed while counting: run `docstore stats --recount` again")
    elif result.drift:
        repaired = sum(c.outcome == recounting.REPAIRED for c in result.counters)
        lines.append(f"drift repaired: {repaired} counters, {len(result.accounts)} accounts")
    else:
        lines.append("no drift: every counter equals the recount")
    return lines


def _progress(items: Iterable[Any], description: str) -> Iterable[Any]:
    from tqdm import tqdm  # only ``--recount`` shows progress

    bar: Iterable[Any] = tqdm(
        items, desc=f"scanning {description}", unit=" items", file=sys.stderr, disable=None, leave=False
    )
    return bar
