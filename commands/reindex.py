"""``docstore reindex``: rebuild the search index with a progress bar (see workers/rebuild.py)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from tqdm import tqdm

from adapters.queue import SEARCH_INDEX
from models import counters
from workers.rebuild import GRACE_SECONDS, RebuildRunning, rebuild

if TYPE_CHECKING:
    from adapters.search.base import IndexedDocument
    from runtime.services import Services
    from settings import Settings


def run(settings: Settings, services: Services) -> int:
    """Rebuild, print a summary; 1 with a message on stderr when another rebuild is running."""
    estimate = counters.read(counters.ALL)[0]  # counted documents: about as many as are READY
    try:
        with tqdm(total=estimate or None, unit="doc", desc="reindex", file=sys.stderr) as bar:

            def advance(_: IndexedDocument) -> None:
                bar.update()

            def live(generation: str) -> None:
                bar.close()
                print(
                    f"generation {generation} is live; changes made meanwhile are replayed in {GRACE_SECONDS:.0f} s",
                    file=sys.stderr,
                )

            done = rebuild(
                settings.search_dir, services.objects, services.queues[SEARCH_INDEX], progress=advance, live=live
            )
    except RebuildRunning as error:
        print(f"docstore: {error}", file=sys.stderr)
        return 1
    print(
        f"search index rebuilt: {done.documents} documents ({done.with_text} with their text) in "
        f"{done.seconds:.1f} s; {done.replayed} changed meanwhile and were sent to the indexer again"
    )
    return 0
